"""kedge.planning — see DESIGN.md, *Layers*."""
