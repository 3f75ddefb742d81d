//! Feeds arbitrary bytes to the GGUF reader, then exercises everything a
//! caller might touch on a file that parsed: metadata getters, tensor infos,
//! tensor data, dequantisation of small tensors and the tokenizer builder.
//! Any panic, overflow or out-of-memory is a bug; errors are fine.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mindlens::gguf::GgufFile;
use mindlens::tokenizer::Tokenizer;

/// Larger tensors are skipped so that one input cannot take seconds.
const MAX_DEQUANT_ELEMENTS: u64 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(data.to_vec(), "fuzz-input") else {
        return;
    };
    let _ = file.architecture();
    let _ = file.arch_key("block_count");
    for (key, value) in file.metadata() {
        let _ = value.to_string();
        let _ = value.type_name();
        let _ = file.get_u32(key);
        let _ = file.get_u64(key);
        let _ = file.get_i64(key);
        let _ = file.get_f32(key);
        let _ = file.get_str(key);
        let _ = file.get_bool(key);
        let _ = file.get_str_array(key);
        let _ = file.get_f32_array(key);
        let _ = file.get_i32_array(key);
    }
    for info in file.tensors() {
        let _ = info.shape();
        let _ = file.tensor_bytes(info);
        if info.n_elements <= MAX_DEQUANT_ELEMENTS {
            if let Ok((values, shape)) = file.dequantize_info(info) {
                assert_eq!(values.len(), shape.iter().product::<usize>());
            }
        }
    }
    if let Ok(tok) = Tokenizer::from_gguf(&file) {
        if let Ok(ids) = tok.encode("Hello, world! 123 <|im_start|> ünï", true) {
            let _ = tok.decode(&ids, false);
            let _ = tok.decode(&ids, true);
        }
    }
});
