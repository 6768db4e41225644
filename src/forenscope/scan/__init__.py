"""The scan: a folder of images into one result line per image (``analyse``), run locally or on
Ray actors (``ray_engine``), resumable (``job``); ``report`` renders what it wrote."""
