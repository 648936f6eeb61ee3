"""kedge.observability — see DESIGN.md, *Layers*."""
