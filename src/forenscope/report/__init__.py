"""What people and other tools read: PNG maps, overlays, tables, reports."""
