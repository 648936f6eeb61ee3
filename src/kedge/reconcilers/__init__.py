"""kedge.reconcilers — see DESIGN.md, *Layers*."""
