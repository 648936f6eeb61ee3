"""kedge.store — see DESIGN.md, *Layers*."""
