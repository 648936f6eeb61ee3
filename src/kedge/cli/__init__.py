"""kedge.cli — see DESIGN.md, *Layers*."""
