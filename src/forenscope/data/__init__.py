"""Finding inputs and datasets on disk: files/folders/globs, 0_real/1_fake trees, image+mask pairs."""
