"""What both backends share, one module per area: query shapes, row mapping, columns."""
