//! Unit tests on synthetic GGUF images.

use super::*;

/// Writes GGUF images for tests.
struct Builder {
    version: u32,
    kv: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    n_tensors: u64,
    data: Vec<u8>,
    alignment: usize,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Builder {
    fn new() -> Self {
        Builder {
            version: 3,
            kv: vec![],
            n_kv: 0,
            infos: vec![],
            n_tensors: 0,
            data: vec![],
            alignment: 32,
        }
    }

    fn kv_raw(&mut self, key: &str, ty: u32, value: &[u8]) -> &mut Self {
        put_str(&mut self.kv, key);
        self.kv.extend_from_slice(&ty.to_le_bytes());
        self.kv.extend_from_slice(value);
        self.n_kv += 1;
        self
    }

    fn kv_str(&mut self, key: &str, v: &str) -> &mut Self {
        let mut b = vec![];
        put_str(&mut b, v);
        self.kv_raw(key, 8, &b)
    }

    fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.kv_raw(key, 4, &v.to_le_bytes())
    }

    /// Adds a tensor with the given data, padding the data section.
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, data: &[u8]) -> &mut Self {
        let offset = self.data.len() as u64;
        self.tensor_at(name, dims, ty, offset);
        self.data.extend_from_slice(data);
        while !self.data.len().is_multiple_of(self.alignment) {
            self.data.push(0);
        }
        self
    }

    fn tensor_at(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        put_str(&mut self.infos, name);
        self.infos.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend_from_slice(&d.to_le_bytes());
        }
        self.infos.extend_from_slice(&ty.to_le_bytes());
        self.infos.extend_from_slice(&offset.to_le_bytes());
        self.n_tensors += 1;
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.n_tensors.to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.infos);
        while !out.len().is_multiple_of(self.alignment) {
            out.push(0);
        }
        out.extend_from_slice(&self.data);
        out
    }
}

fn open(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(bytes, "test.gguf")
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn sample() -> Builder {
    let mut b = Builder::new();
    b.kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 30)
        .kv_raw("u8", 0, &[200])
        .kv_raw("i8", 1, &[0xFF])
        .kv_raw("u16", 2, &513u16.to_le_bytes())
        .kv_raw("i16", 3, &(-2i16).to_le_bytes())
        .kv_raw("i32", 5, &(-7i32).to_le_bytes())
        .kv_raw("f32", 6, &1.5f32.to_le_bytes())
        .kv_raw("bool", 7, &[1])
        .kv_raw("u64", 10, &(1u64 << 40).to_le_bytes())
        .kv_raw("i64", 11, &(-3i64).to_le_bytes())
        .kv_raw("f64", 12, &0.25f64.to_le_bytes());
    // array[string]
    let mut arr = 8u32.to_le_bytes().to_vec();
    arr.extend_from_slice(&2u64.to_le_bytes());
    put_str(&mut arr, "a");
    put_str(&mut arr, "bc");
    b.kv_raw("strs", 9, &arr);
    // array[array[i32]]
    let mut arr = 9u32.to_le_bytes().to_vec();
    arr.extend_from_slice(&2u64.to_le_bytes());
    for n in [1u64, 2] {
        arr.extend_from_slice(&5u32.to_le_bytes());
        arr.extend_from_slice(&n.to_le_bytes());
        for i in 0..n {
            arr.extend_from_slice(&(i as i32 - 1).to_le_bytes());
        }
    }
    b.kv_raw("nested", 9, &arr);
    // array[f32]
    let mut arr = 6u32.to_le_bytes().to_vec();
    arr.extend_from_slice(&3u64.to_le_bytes());
    arr.extend_from_slice(&f32_bytes(&[0.5, -1.0, 2.0]));
    b.kv_raw("floats", 9, &arr);

    let w: Vec<f32> = (0..6).map(|i| i as f32).collect();
    b.tensor("w", &[3, 2], 0, &f32_bytes(&w));
    let mut q8 = half::f16::from_f32(2.0).to_bits().to_le_bytes().to_vec();
    q8.extend((0..32).map(|i| i as u8));
    b.tensor("q", &[32], 8, &q8);
    b
}

#[test]
fn parses_all_value_types() {
    let f = open(sample().build()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.arch_key("block_count").unwrap(), "llama.block_count");
    assert_eq!(f.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(f.get_u32("u8").unwrap(), 200);
    assert_eq!(f.get_u32("u16").unwrap(), 513);
    assert_eq!(f.get_i64("i8").unwrap(), -1);
    assert_eq!(f.get_i64("i16").unwrap(), -2);
    assert_eq!(f.get_u64("u64").unwrap(), 1 << 40);
    assert_eq!(f.get_i64("i64").unwrap(), -3);
    assert_eq!(f.get_f32("f32").unwrap(), 1.5);
    assert_eq!(f.get_f32("f64").unwrap(), 0.25);
    assert_eq!(f.get_f32("llama.block_count").unwrap(), 30.0);
    assert!(f.get_bool("bool").unwrap());
    assert_eq!(f.get_str_array("strs").unwrap(), vec!["a", "bc"]);
    assert_eq!(f.get_f32_array("floats").unwrap(), vec![0.5, -1.0, 2.0]);
    assert_eq!(
        f.meta("nested"),
        Some(&MetaValue::Array(vec![
            MetaValue::Array(vec![MetaValue::I32(-1)]),
            MetaValue::Array(vec![MetaValue::I32(-1), MetaValue::I32(0)]),
        ]))
    );
    assert_eq!(f.metadata().count(), 15);
    assert_eq!(f.get_opt_u32("nope").unwrap(), None);
    assert_eq!(f.get_opt_str("general.architecture").unwrap(), Some("llama"));
}

#[test]
fn getter_errors_name_key_and_file() {
    let f = open(sample().build()).unwrap();
    let e = f.get_u32("missing.key").unwrap_err().to_string();
    assert!(e.contains("missing.key") && e.contains("test.gguf"), "{e}");
    let e = f.get_u32("i32").unwrap_err().to_string();
    assert!(e.contains("out of range") && e.contains("'i32'"), "{e}");
    let e = f.get_u32("u64").unwrap_err().to_string();
    assert!(e.contains("out of range"), "{e}");
    let e = f.get_str("f32").unwrap_err().to_string();
    assert!(e.contains("string") && e.contains("f32"), "{e}");
    assert!(f.get_i32_array("strs").is_err());
    assert!(f.get_opt_bool("u8").is_err());
    assert!(matches!(f.get_bool("nope"), Err(GgufError::MissingKey { .. })));
}

#[test]
fn tensors_and_shapes() {
    let f = open(sample().build()).unwrap();
    assert_eq!(f.tensors().len(), 2);
    let w = f.tensor_info("w").unwrap();
    assert_eq!(w.dims, vec![3, 2]);
    assert_eq!(w.shape(), vec![2, 3]);
    assert_eq!(w.ggml_type, GgmlType::F32);
    assert_eq!(f.tensor_bytes(w).unwrap().len(), 24);
    let (v, shape) = f.dequantize("w").unwrap();
    assert_eq!(shape, vec![2, 3]);
    assert_eq!(v, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let (v, shape) = f.dequantize("q").unwrap();
    assert_eq!(shape, vec![32]);
    assert_eq!(v[5], 10.0);
    assert!(matches!(f.dequantize("nope"), Err(GgufError::TensorNotFound { .. })));
    assert_eq!(f.data_offset() % 32, 0);
}

#[test]
fn version_2_accepted() {
    let mut b = sample();
    b.version = 2;
    assert_eq!(open(b.build()).unwrap().version(), 2);
}

#[test]
fn bad_versions_rejected() {
    for (v, hint) in [(1u32, "version 1"), (3u32.swap_bytes(), "big-endian"), (4, "")] {
        let mut b = sample();
        b.version = v;
        let e = open(b.build()).unwrap_err();
        assert!(matches!(e, GgufError::UnsupportedVersion { version, .. } if version == v));
        assert!(e.to_string().contains(hint), "{e}");
    }
}

#[test]
fn bad_magic() {
    let mut bytes = sample().build();
    bytes[0] = b'X';
    assert!(matches!(open(bytes), Err(GgufError::BadMagic { .. })));
    assert!(matches!(open(vec![]), Err(GgufError::Truncated { .. })));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().build();
    // The last tensor ("q", 34 bytes) is followed by 30 bytes of padding,
    // which a file may omit.
    let data_end = bytes.len() - 30;
    for len in 0..data_end {
        let r = open(bytes[..len].to_vec());
        assert!(r.is_err(), "prefix of {len} bytes parsed");
    }
    assert!(open(bytes[..data_end].to_vec()).is_ok());
}

#[test]
fn huge_counts_do_not_allocate() {
    // Claim 2^60 key/value pairs and 2^60 tensors in a 24-byte file.
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(matches!(open(bytes), Err(GgufError::Truncated { .. })));

    // An array claiming u64::MAX elements.
    let mut b = Builder::new();
    let mut arr = 4u32.to_le_bytes().to_vec();
    arr.extend_from_slice(&u64::MAX.to_le_bytes());
    b.kv_raw("big", 9, &arr);
    let e = open(b.build()).unwrap_err();
    assert!(matches!(e, GgufError::Truncated { .. }), "{e}");

    // A string claiming u64::MAX bytes.
    let mut b = Builder::new();
    b.kv_raw("s", 8, &u64::MAX.to_le_bytes());
    assert!(matches!(open(b.build()), Err(GgufError::Truncated { .. })));
}

#[test]
fn deep_nesting_rejected() {
    let mut b = Builder::new();
    let mut arr = vec![];
    for _ in 0..100 {
        arr.extend_from_slice(&9u32.to_le_bytes());
        arr.extend_from_slice(&1u64.to_le_bytes());
    }
    arr.extend_from_slice(&4u32.to_le_bytes());
    arr.extend_from_slice(&0u64.to_le_bytes());
    b.kv_raw("deep", 9, &arr[12..]);
    let e = open(b.build()).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn bad_metadata() {
    let mut b = Builder::new();
    b.kv_raw("x", 13, &[]);
    assert!(matches!(open(b.build()), Err(GgufError::BadMetadata { .. })));

    let mut b = Builder::new();
    b.kv_u32("x", 1).kv_u32("x", 2);
    let e = open(b.build()).unwrap_err();
    assert!(e.to_string().contains("duplicate"), "{e}");

    let mut b = Builder::new();
    b.kv_u32(KEY_ALIGNMENT, 24);
    assert!(matches!(open(b.build()), Err(GgufError::BadMetadata { .. })));
}

#[test]
fn custom_alignment() {
    let mut b = Builder::new();
    b.alignment = 64;
    b.kv_u32(KEY_ALIGNMENT, 64);
    b.tensor("a", &[1], 0, &f32_bytes(&[1.0]));
    b.tensor("b", &[2], 0, &f32_bytes(&[2.0, 3.0]));
    let f = open(b.build()).unwrap();
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.data_offset() % 64, 0);
    assert_eq!(f.tensor_info("b").unwrap().offset, 64);
    assert_eq!(f.dequantize("b").unwrap().0, vec![2.0, 3.0]);
}

#[test]
fn bad_tensors() {
    let check = |b: &Builder, needle: &str| {
        let e = open(b.build()).unwrap_err();
        assert!(matches!(e, GgufError::BadTensor { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
    };
    let mut b = Builder::new();
    b.tensor_at("t", &[1, 1, 1, 1, 1], 0, 0);
    check(&b, "dimensions");

    let mut b = Builder::new();
    b.tensor_at("t", &[u64::MAX, 2], 0, 0);
    check(&b, "overflows");

    let mut b = Builder::new();
    b.tensor_at("t", &[1 << 40, 1], 0, 0);
    check(&b, "beyond the end");

    let mut b = Builder::new();
    b.tensor_at("t", &[4], 0, 8);
    check(&b, "alignment");

    let mut b = Builder::new();
    b.tensor_at("t", &[33], 8, 0);
    check(&b, "block size");

    let mut b = Builder::new();
    b.tensor("t", &[1], 0, &[0; 4]).tensor("t", &[1], 0, &[0; 4]);
    check(&b, "duplicate");
}

#[test]
fn unknown_type_is_inspectable() {
    let mut b = Builder::new();
    b.tensor("odd", &[8], 99, &[0; 32]);
    b.tensor("iq", &[256], 16, &[0; 66]);
    let f = open(b.build()).unwrap();
    let odd = f.tensor_info("odd").unwrap();
    assert_eq!(odd.ggml_type, GgmlType::Other(99));
    assert_eq!(odd.n_bytes, None);
    let e = f.dequantize("odd").unwrap_err();
    assert!(matches!(e, GgufError::UnsupportedType { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("unsupported tensor type type#99") && msg.contains("'odd'"),
        "{msg}"
    );
    let e = f.dequantize("iq").unwrap_err().to_string();
    assert!(e.contains("IQ2_XXS") && e.contains("'iq'"), "{e}");
    assert_eq!(f.tensor_bytes(f.tensor_info("iq").unwrap()).unwrap().len(), 66);
}

#[test]
fn ggml_type_ids_round_trip() {
    for id in 0..64 {
        assert_eq!(GgmlType::from_id(id).id(), id);
    }
    assert_eq!(GgmlType::Q4_K.type_size(), Some(144));
    assert_eq!(GgmlType::Q6_K.type_size(), Some(210));
    assert_eq!(GgmlType::Q5_K.type_size(), Some(176));
    assert_eq!(GgmlType::Q8_0.block_size(), Some(32));
    assert_eq!(GgmlType::BF16.to_string(), "BF16");
}

#[test]
fn open_missing_file() {
    let e = GgufFile::open(Path::new("/nonexistent/x.gguf")).unwrap_err();
    assert!(matches!(e, GgufError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/x.gguf"));
}

#[test]
fn open_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.gguf");
    std::fs::write(&p, sample().build()).unwrap();
    let f = GgufFile::open(&p).unwrap();
    assert_eq!(f.dequantize("w").unwrap().0.len(), 6);
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(GgufFile::open(&empty), Err(GgufError::Truncated { .. })));
}

#[test]
fn open_resident_reads_what_the_map_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.gguf");
    std::fs::write(&p, sample().build()).unwrap();
    let (mapped, resident) = (GgufFile::open(&p).unwrap(), GgufFile::open_resident(&p).unwrap());
    assert_eq!(resident.dequantize("w").unwrap(), mapped.dequantize("w").unwrap());
    assert_eq!(resident.backing.bytes(), mapped.backing.bytes());
    assert!(
        !std::ptr::eq(resident.backing.bytes(), mapped.backing.bytes()),
        "a copy, not the file's map"
    );
    // The file can change under the copy without changing it (the map is dropped first).
    let w = mapped.dequantize("w").unwrap();
    drop(mapped);
    std::fs::write(&p, b"not gguf").unwrap();
    assert_eq!(resident.dequantize("w").unwrap(), w);
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        GgufFile::open_resident(&empty),
        Err(GgufError::Truncated { .. })
    ));
    assert!(matches!(
        GgufFile::open_resident(Path::new("/nonexistent/x.gguf")),
        Err(GgufError::Io { .. })
    ));
}
