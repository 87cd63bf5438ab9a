"""The request pipeline (docs/DESIGN.md §4): fixed steps, pluggable stages, typed short-circuits."""
