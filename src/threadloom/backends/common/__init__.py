"""What both backends share: column lists, row mapping and query shapes, with a small
dialect description for what differs."""
