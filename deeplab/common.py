"""DeepLab constants shared by the input pipeline, model, trainer and exporters.

Names are API (TFRecord sample keys, output type): keep them here, as the original did.
(Flags and ModelOptions are added below by the DeepLab entry-point work.)
"""

# Semantic segmentation item names (keys of the samples produced by datasets/data_generator).
LABELS_CLASS = 'labels_class'
IMAGE = 'image'
HEIGHT = 'height'
WIDTH = 'width'
IMAGE_NAME = 'image_name'
LABEL = 'label'
ORIGINAL_IMAGE = 'original_image'

# Test set name: its samples have no labels.
TEST_SET = 'test'

# Output type of the model's logits dict.
OUTPUT_TYPE = 'semantic'
