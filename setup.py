"""Packaging for the TF1-style QAT project (packages: slim, deeplab, detection, datasets, benchmarks).

Install for development with `pip install -e .[cpu,test]` (scripts/setup_env.sh does this).
GPU users install the `gpu` extra instead of `cpu`; never both, since each pulls its own
TensorFlow wheel.

tf-keras (needed only for the legacy layers that tf_slim's batch_norm uses) declares a dependency
on the `tensorflow` wheel, which would install a second TensorFlow over `tensorflow-cpu`. So it is
not a requirement here: scripts/setup_env.sh installs it with `--no-deps`, and the `gpu` extra
(whose TensorFlow *is* `tensorflow`) lists it normally.
"""
import setuptools

_TF_VERSION = '2.21.*'

setuptools.setup(
    name='tf1-qat',
    version='0.1.0',
    description=('tf.contrib.quantize-compatible quantization-aware training, DeepLab and '
                 'slim recipes, and 8-bit TFLite deployment on TensorFlow 2.21.'),
    python_requires='>=3.10',
    packages=setuptools.find_packages(include=['slim', 'slim.*', 'deeplab', 'deeplab.*',
                                               'detection', 'detection.*',
                                               'datasets', 'datasets.*', 'benchmarks',
                                               'mobilebert', 'mobilebert.*']),
    # Data the modules read: DeepLab's released dense prediction cell config, MobileBERT's
    # released configs.
    package_data={'deeplab.core': ['*.json'], 'mobilebert': ['config/*.json']},
    install_requires=[
        'tf-slim==1.1.0',
        'absl-py',
        'pillow',
        'numpy',
        # COCO box AP of the detection evaluator (detection/eval.py).
        'pycocotools',
        # MobileBERT's WordPiece tokenizer (BertWordPieceTokenizer over a vocab file).
        'tokenizers',
    ],
    extras_require={
        'cpu': ['tensorflow-cpu==' + _TF_VERSION],
        'gpu': ['tensorflow==' + _TF_VERSION, 'tf-keras==' + _TF_VERSION],
        'test': ['pytest', 'pytest-timeout'],
        'bench': ['matplotlib'],
    },
    # The entry scripts as commands; `python deeplab/train.py ...` (the original way) works too.
    entry_points={
        'console_scripts': [
            'deeplab_train=deeplab.train:run',
            'deeplab_eval=deeplab.eval:run',
            'deeplab_vis=deeplab.vis:run',
            'deeplab_export_model=deeplab.export_model:run',
            'deeplab_convert_to_tflite=deeplab.convert_to_tflite:run',
            'deeplab_ptq_to_tflite=deeplab.ptq_to_tflite:run',
            'deeplab_compare_heads=deeplab.compare_heads:run',
            'deeplab_evaluate_tflite=deeplab.evaluate_tflite:run',
            'deeplab_quantization_report=deeplab.quantization_report:run',
            'detection_train=detection.train:run',
            'detection_eval=detection.eval:run',
            'detection_export_model=detection.export_model:run',
            'detection_quantization_report=detection.quantization_report:run',
            'build_coco_data=datasets.build_coco_data:run',
            'datasets_synthetic_detection=datasets.synthetic_detection:run',
            'slim_train_image_classifier=slim.train_image_classifier:run',
            'slim_eval_image_classifier=slim.eval_image_classifier:run',
            'slim_export_inference_graph=slim.export_inference_graph:run',
            'slim_ptq_image_classifier=slim.ptq_image_classifier:run',
            'strip_pruning_vars=slim.pruning.strip_pruning_vars:run',
            'pruning_size_report=slim.pruning.size_report:run',
            'tflite_inspect=slim.tflite.inspection:main',
            'checkpoint_tarball=slim.checkpoint_tarball:main',
            'build_voc2012_data=datasets.build_voc2012_data:run',
            'build_cityscapes_data=datasets.build_cityscapes_data:run',
            'build_ade20k_data=datasets.build_ade20k_data:run',
            'build_classification_data=datasets.build_classification_data:run',
            'remove_gt_colormap=datasets.remove_gt_colormap:run',
            'datasets_synthetic=datasets.synthetic:run',
            'datasets_synthetic_classification=datasets.synthetic_classification:run',
            'mobilebert_run_squad=mobilebert.run_squad:run',
            'mobilebert_synthetic_squad=mobilebert.synthetic_squad:run',
            'mobilebert_quantization_report=mobilebert.quantization_report:run',
        ],
    },
)
