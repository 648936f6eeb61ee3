"""kedge.specs — see DESIGN.md, *Layers*."""
