"""kedge.controller — see DESIGN.md, *Layers*."""
