"""Data every chapter may use: ColorWorld (procedural scenes with known colour distributions; its oracle
sampler of the colours a grey scene leaves open in ``data.oracle``), the photos
bundled in installed wheels, an opt-in loader for any folder of photos (DESIGN section 4), and patches cut
from either."""

from reprolib.data.colorworld import (
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
from reprolib.data.folder import IMAGE_EXTENSIONS, ImageFolderColor
from reprolib.data.photos import (
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
    "PHOTO_SOURCES",
    "TEST_PHOTOS",
    "TRAIN_PHOTOS",
    "PhotoCrops",
    "available_photos",
    "load_photo",
    "photo_status",
    "photo_thumbnails",
]
