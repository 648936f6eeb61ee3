"""kedge.api — see DESIGN.md, *Layers*."""
