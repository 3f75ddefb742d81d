"""Control-vector GGUF fixtures written with the `gguf` package the way the two common producers
write them, so mindlens' importer is tested against files it did not write:

- cvector_generator.gguf: like llama.cpp's `llama-cvector-generator` (general.architecture
  "controlvector", controlvector.model_hint "llama", controlvector.layer_count as INT32 = n_layer-1,
  tensors direction.1 .. direction.29, F32, unit norm);
- repeng.gguf: like repeng's `ControlVector.export_gguf` (model_hint from the model type,
  layer_count as UINT32 = number of directions, a subset of layers: 5..8).

Also writes `{name}.layer{first}.npy` with the first layer's expected values.

    .venv/bin/python scripts/make_control_vector_fixtures.py
"""
import pathlib

import gguf
import numpy as np

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "controlvector"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)

def unit(d):
    v = rng.standard_normal(d).astype(np.float32)
    return v / np.linalg.norm(v)

# llama.cpp cvector-generator style
w = gguf.GGUFWriter(str(out / "cvector_generator.gguf"), "controlvector")
w.add_string("controlvector.model_hint", "llama")
w.add_int32("controlvector.layer_count", 29)
first = None
for layer in range(1, 30):
    v = unit(576)
    first = v if first is None else first
    w.add_tensor(f"direction.{layer}", v)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
np.save(out / "cvector_generator.gguf.layer1.npy", first)

# repeng style
w = gguf.GGUFWriter(str(out / "repeng.gguf"), "controlvector")
w.add_string("controlvector.model_hint", "llama")
w.add_uint32("controlvector.layer_count", 4)
first = None
for layer in range(5, 9):
    v = rng.standard_normal(576).astype(np.float32) * 3.0
    first = v if first is None else first
    w.add_tensor(f"direction.{layer}", v)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
np.save(out / "repeng.gguf.layer5.npy", first)
print("wrote", sorted(p.name for p in out.iterdir()))
