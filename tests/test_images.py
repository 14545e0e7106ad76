"""Image adapters: every accepted input becomes a thumbnail; bad ones a placeholder."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from confusion_widget import ConfusionWidgetWarning, ImageSource
from confusion_widget.images import to_pil


def decode(enc):
    assert enc.error is None and enc.data
    return Image.open(io.BytesIO(enc.data))


def test_uint8_grayscale_array_small_images_are_enlarged_crisply():
    imgs = np.zeros((2, 8, 8), np.uint8)
    imgs[1, :, 4:] = 255
    src = ImageSource(imgs, np.arange(2))
    enc = src.thumbnail(1)
    assert enc.mime == "image/png" and (enc.width, enc.height) == (8, 8)
    im = np.asarray(decode(enc))
    assert im.shape[:2] == (96, 96)
    assert im[0, 0] == 0 and im[0, -1] == 255  # NEAREST: no blur


def test_rgb_channels_last_large_images_become_jpeg():
    imgs = np.random.default_rng(0).integers(0, 255, (3, 224, 200, 3), dtype=np.uint8)
    enc = ImageSource(imgs, np.arange(3)).thumbnail(2)
    assert enc.mime == "image/jpeg"
    assert max(decode(enc).size) == 96


def test_normalised_float_tensor_channels_first_is_unnormalised():
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]
    raw = torch.full((1, 3, 8, 8), 0.0)
    raw[0, 0] = 1.0  # red channel at 1.0, others 0
    norm = (raw - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    enc = ImageSource(norm, np.arange(1), mean=mean, std=std).thumbnail(0)
    px = np.asarray(decode(enc).convert("RGB"))[0, 0]
    assert px.tolist() == [255, 0, 0]


def test_pil_list_paths_dataset_and_callable(tmp_path):
    pil = [Image.new("RGB", (20, 10), c) for c in ("red", "blue")]
    paths = []
    for i, im in enumerate(pil):
        p = tmp_path / f"{i}.png"
        im.save(p)
        paths.append(str(p))

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.ones(1, 8, 8) * i, i

    for images in (pil, paths, DS(), lambda sid: pil[sid]):
        src = ImageSource(images, np.arange(2))
        assert src.thumbnail(1).error is None


def test_callable_receives_sample_ids():
    seen = []
    src = ImageSource(
        lambda sid: seen.append(sid) or np.zeros((4, 4), np.uint8), np.array(["x", "y"], dtype=object)
    )
    src.thumbnail(1)
    assert seen == ["y"]


def test_count_mismatch_and_bad_types():
    with pytest.raises(ValueError, match="images has 3 items but there are 2 samples"):
        ImageSource(np.zeros((3, 4, 4), np.uint8), np.arange(2))
    with pytest.raises(ValueError, match="must be \\(N, H, W\\)"):
        ImageSource(np.zeros((3, 4), np.uint8), np.arange(3))
    with pytest.raises(TypeError):
        ImageSource(3.5, np.arange(3))


def test_unreadable_path_is_a_placeholder_with_one_warning(tmp_path):
    src = ImageSource([str(tmp_path / "missing.png")], np.array([42]))
    with pytest.warns(ConfusionWidgetWarning, match="sample 42"):
        enc = src.thumbnail(0)
    assert enc.data is None and "FileNotFoundError" in enc.error
    enc2 = src.thumbnail(0)  # cached: no second warning (warnings are errors in tests)
    assert enc2 is enc


def test_nan_image_and_callable_raising_are_placeholders():
    src = ImageSource([np.full((4, 4), np.nan)], np.arange(1))
    with pytest.warns(ConfusionWidgetWarning):
        assert "NaN" in src.thumbnail(0).error

    def boom(_):
        raise RuntimeError("disk on fire")

    with pytest.warns(ConfusionWidgetWarning, match="disk on fire"):
        assert ImageSource(boom, np.arange(1)).thumbnail(0).data is None


def test_to_pil_value_ranges():
    assert np.asarray(to_pil(np.array([[0.0, 1.0]]))).tolist() == [[0, 255]]
    assert np.asarray(to_pil(np.array([[-1.0, 1.0]]))).tolist() == [[0, 255]]
    assert np.asarray(to_pil(np.array([[0, 255]], dtype=np.int64))).tolist() == [[0, 255]]
