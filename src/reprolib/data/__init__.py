"""Data: ColorWorld (procedural scenes with known colour distributions), the photos bundled in installed
wheels, and an opt-in loader for any folder of photos (DESIGN section 4)."""

from .colorworld import (
    DEFAULT_CLASSES,
    GROUND,
    SHAPES,
    SKY,
    TEXTURES,
    BackgroundRegion,
    ColorClass,
    ColorWorld,
    SceneParams,
)
from .folder import IMAGE_EXTENSIONS, ImageFolderColor
from .hints import HintPoints, fixed_points, max_error_points, reveal_patches, sample_hint_points, sample_hints
from .photos import (
    PHOTO_SOURCES,
    TEST_PHOTOS,
    TRAIN_PHOTOS,
    PhotoCrops,
    available_photos,
    load_photo,
    photo_status,
    photo_thumbnails,
)

__all__ = [
    "BackgroundRegion",
    "ColorClass",
    "ColorWorld",
    "DEFAULT_CLASSES",
    "GROUND",
    "SHAPES",
    "SKY",
    "SceneParams",
    "TEXTURES",
    "IMAGE_EXTENSIONS",
    "ImageFolderColor",
    "HintPoints",
    "fixed_points",
    "max_error_points",
    "reveal_patches",
    "sample_hint_points",
    "sample_hints",
    "PHOTO_SOURCES",
    "TEST_PHOTOS",
    "TRAIN_PHOTOS",
    "PhotoCrops",
    "available_photos",
    "load_photo",
    "photo_status",
    "photo_thumbnails",
]
