"""Keys of the sample dicts that `data_generator.Dataset` yields (names are API).

These are the original DeepLab `common` item names; `deeplab.common` re-exports them under the
same names, so `common.IMAGE` and `sample_keys.IMAGE` are one constant. They live here, in the
data layer, because the input pipeline produces the samples and must not import the model
package above it.
"""

# Decoded label map before preprocessing ([H, W, 1]); renamed to LABEL after it.
LABELS_CLASS = 'labels_class'
# Image: decoded, then the preprocessed (float) model input.
IMAGE = 'image'
# Size of the decoded image, as stored in the TFRecord.
HEIGHT = 'height'
WIDTH = 'width'
# image/filename of the example.
IMAGE_NAME = 'image_name'
# Preprocessed label map ([crop_height, crop_width, 1]).
LABEL = 'label'
# Image before preprocessing (evaluation only, for visualization).
ORIGINAL_IMAGE = 'original_image'

# Split name whose examples have no label.
TEST_SET = 'test'
