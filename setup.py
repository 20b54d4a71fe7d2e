"""Packaging for the TF1-style QAT project (packages: slim, deeplab, datasets, benchmarks).

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
                                               'datasets', 'datasets.*', 'benchmarks']),
    install_requires=[
        'tf-slim==1.1.0',
        'absl-py',
        'pillow',
        'numpy',
    ],
    extras_require={
        'cpu': ['tensorflow-cpu==' + _TF_VERSION],
        'gpu': ['tensorflow==' + _TF_VERSION, 'tf-keras==' + _TF_VERSION],
        'test': ['pytest', 'pytest-timeout'],
        'bench': ['matplotlib'],
    },
    entry_points={
        'console_scripts': [],
    },
)
