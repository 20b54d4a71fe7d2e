"""The tfmot peer: DeepLab MobileNetV2 OS16 in tf_keras, quantized by tfmot, timed like ours.

Runs ONLY in the benchmark-only venv of scripts/setup_tfmot_env.sh (tensorflow-model-optimization
0.8.1 pins absl-py~=1.2, which the project's .venv must not get). It builds the recipe's model
(MobileNetV2 with depth multiplier dm, output stride 16: the last stride-2 block runs at stride
1 and the blocks after it use depthwise dilation 2; image pooling + a 1x1 ASPP branch,
concatenated and projected, 1x1 logits for 21 classes, bilinear resize to the crop), its
`tfmot.quantization.keras.quantize_model` QAT twin, times `train_on_batch` steps of the two
interleaved in this one process (same crop and batch, random data, SGD with momentum), then
converts the float model and the QAT model to TFLite (float, and int8 with a uint8 input; ArgMax
on top of both) into --output_dir. It imports nothing of this project: `slim` would switch TF to
graph mode, and tfmot is used eagerly as its users do. The project's benchmark times the two
.tflite files (benchmarks.peers). Written to --output_dir/tfmot.json:

  {"qat_step_over_float": median of per-round QAT/float step ratios, "int8_bytes": ...,
   "float_tflite": ..., "int8_tflite": ...}

Usage: .venv-tfmot/bin/python -m benchmarks.tfmot_peer --depth_multiplier=1.0 --crop_size=513 \
           --batch_size=8 --steps=5 --output_dir=DIR
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')  # tfmot works on tf_keras models only.

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

NUM_CLASSES = 21
# (expansion, channels, repeats, stride) of MobileNetV2 (the 1280 conv is not used by DeepLab).
_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1))
_OUTPUT_STRIDE = 16
_ASPP_DEPTH = 256


def _divisible(value, divisor=8):
  """MobileNet channel rounding (slim's and keras.applications' rule)."""
  new = max(divisor, int(value + divisor / 2) // divisor * divisor)
  return new + divisor if new < 0.9 * value else new


def _conv_bn(x, filters, kernel, name, stride=1, activation='relu6'):
  x = keras.layers.Conv2D(filters, kernel, stride, padding='same', use_bias=False,
                          name=name)(x)
  x = keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-3, name=name + '_bn')(x)
  return keras.layers.ReLU(6.0 if activation == 'relu6' else None, name=name + '_relu')(x) \
      if activation else x


def _resize(size, name):
  # align_corners=True as DeepLab resizes; a Lambda, so it is left out of QAT annotation.
  return keras.layers.Lambda(
      lambda t: tf.compat.v1.image.resize_bilinear(t, size, align_corners=True), name=name)


def build_model(depth_multiplier, crop_size):
  """The recipe's DeepLab MobileNetV2 OS16 (logits upsampled to the crop), random weights."""
  inputs = keras.Input([crop_size, crop_size, 3], name='image')
  x = _conv_bn(inputs, _divisible(32 * depth_multiplier), 3, 'stem', stride=2)
  stride, rate, channels, index = 2, 1, _divisible(32 * depth_multiplier), 0
  for expansion, out, repeats, first_stride in _BLOCKS:
    out = _divisible(out * depth_multiplier)
    for repeat in range(repeats):
      block_stride = first_stride if repeat == 0 else 1
      block_rate = rate
      if block_stride > 1 and stride >= _OUTPUT_STRIDE:
        rate *= block_stride  # Later blocks dilate; this one keeps its rate.
        block_stride = 1
      else:
        stride *= block_stride
      name = 'block_%d' % index
      y = x
      if expansion != 1:
        y = _conv_bn(y, channels * expansion, 1, name + '_expand')
      y = keras.layers.DepthwiseConv2D(3, block_stride, padding='same', use_bias=False,
                                       dilation_rate=block_rate, name=name + '_dw')(y)
      y = keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-3,
                                          name=name + '_dw_bn')(y)
      y = keras.layers.ReLU(6.0, name=name + '_dw_relu')(y)
      y = _conv_bn(y, out, 1, name + '_project', activation=None)
      if block_stride == 1 and channels == out:
        y = keras.layers.Add(name=name + '_add')([x, y])
      x, channels, index = y, out, index + 1
  feature_size = x.shape[1]
  pool = keras.layers.GlobalAveragePooling2D(keepdims=True, name='image_pooling_gap')(x)
  pool = _conv_bn(pool, _ASPP_DEPTH, 1, 'image_pooling', activation='relu')
  pool = _resize([feature_size, feature_size], 'image_pooling_up')(pool)
  aspp0 = _conv_bn(x, _ASPP_DEPTH, 1, 'aspp0', activation='relu')
  x = keras.layers.Concatenate(name='concat')([pool, aspp0])
  x = _conv_bn(x, _ASPP_DEPTH, 1, 'concat_projection', activation='relu')
  x = keras.layers.Conv2D(NUM_CLASSES, 1, name='logits')(x)
  x = _resize([crop_size, crop_size], 'logits_up')(x)
  return keras.Model(inputs, x, name='deeplab_mnv2')


def quantize(model):
  """tfmot's default 8-bit QAT of every layer but the resize Lambdas."""
  keras.src.saving.serialization_lib.enable_unsafe_deserialization()

  def annotate(layer):
    if isinstance(layer, keras.layers.Lambda):
      return layer
    return tfmot.quantization.keras.quantize_annotate_layer(layer)
  annotated = keras.models.clone_model(model, clone_function=annotate)
  with tfmot.quantization.keras.quantize_scope():
    return tfmot.quantization.keras.quantize_apply(annotated)


def _compile(model):
  model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def time_steps(models, images, labels, warmup, steps):
  """train_on_batch of several models interleaved (order rotating); {name: [seconds]}."""
  names = list(models)
  for _ in range(warmup):
    for name in names:
      models[name].train_on_batch(images, labels)
  times = {name: [] for name in names}
  for round_index in range(steps):
    shift = round_index % len(names)
    for name in names[shift:] + names[:shift]:
      start = time.perf_counter()
      models[name].train_on_batch(images, labels)
      times[name].append(time.perf_counter() - start)
  return times


def _with_argmax(model):
  out = keras.layers.Lambda(lambda t: tf.argmax(t, axis=3, output_type=tf.int32),
                            name='argmax')(model.output)
  return keras.Model(model.input, out)


def convert(model, int8, crop_size):
  """TFLite bytes of `model` with ArgMax on top: float, or int8 (uint8 input)."""
  converter = tf.lite.TFLiteConverter.from_keras_model(_with_argmax(model))
  if int8:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.uint8
  del crop_size
  return converter.convert()


def run(depth_multiplier, crop_size, batch_size, warmup, steps, output_dir):
  """Measures the peer, writes its two .tflite files to `output_dir`; returns its record."""
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, [batch_size, crop_size, crop_size, 3]).astype(np.float32)
  labels = rng.integers(0, NUM_CLASSES, [batch_size, crop_size, crop_size]).astype(np.int32)
  float_model = build_model(depth_multiplier, crop_size)
  start = time.perf_counter()
  qat_model = quantize(float_model)
  quantize_seconds = time.perf_counter() - start
  for model in (float_model, qat_model):
    _compile(model)
  times = time_steps({'float': float_model, 'qat': qat_model}, images, labels, warmup, steps)
  paired = [q / f for f, q in zip(times['float'], times['qat'])]
  models = {'float': convert(float_model, False, crop_size),
            'int8': convert(qat_model, True, crop_size)}
  paths = {}
  for kind, model in models.items():
    paths[kind] = os.path.join(output_dir, 'tfmot_dm%s_%s.tflite' % (depth_multiplier, kind))
    _write(paths[kind], model)
  return {
      'tfmot_version': tfmot.__version__, 'tensorflow': tf.__version__,
      'depth_multiplier': depth_multiplier, 'crop_size': crop_size, 'batch_size': batch_size,
      'train_steps': steps, 'quantize_model_seconds': round(quantize_seconds, 1),
      'float_step_s': [round(t, 4) for t in times['float']],
      'qat_step_s': [round(t, 4) for t in times['qat']],
      'qat_step_over_float': round(statistics.median(paired), 3),
      'qat_step_over_float_min': round(min(times['qat']) / min(times['float']), 3),
      'float_bytes': len(models['float']), 'int8_bytes': len(models['int8']),
      # Relative to the record's folder (peers.tfmot_record resolves them there), so the
      # folder can be given by any path, relative or not.
      'float_tflite': os.path.basename(paths['float']),
      'int8_tflite': os.path.basename(paths['int8']),
  }


def _write(path, data):
  """Temp file + rename: a killed run leaves no half-written file."""
  mode = 'w' if isinstance(data, str) else 'wb'
  with open(path + '.tmp', mode) as f:
    f.write(data)
  os.replace(path + '.tmp', path)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--depth_multiplier', type=float, default=1.0)
  parser.add_argument('--crop_size', type=int, default=513)
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--warmup', type=int, default=1)
  parser.add_argument('--steps', type=int, default=5)
  parser.add_argument('--output_dir', required=True,
                      help='Where tfmot.json and the two .tflite files go.')
  args = parser.parse_args(argv)
  os.makedirs(args.output_dir, exist_ok=True)
  record = run(args.depth_multiplier, args.crop_size, args.batch_size, args.warmup, args.steps,
               args.output_dir)
  text = json.dumps(record, indent=1)
  _write(os.path.join(args.output_dir, 'tfmot.json'), text)
  print(text)
  return 0


if __name__ == '__main__':
  sys.exit(main())
