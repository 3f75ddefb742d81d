//! Products of a few activation rows with a quantized GGUF matrix, read in its blocks.
//!
//! Decoding one token multiplies a single activation row by every weight matrix: the work
//! is a stream through the weights, bound by memory bandwidth. Kept as f32 the weights of
//! SmolLM2-135M are 540 MB per token; in their GGUF blocks (Q4_1, 5 bits a weight) they are
//! 85 MB. Blocks are dotted straight from their integers, `d * sum(q x) + m * sum(x)` per
//! scale as llama.cpp does, with activations kept in f32 ([`kernels`]). The weights are
//! exactly the dequantized matrix's; only the order of the additions differs from a dense
//! product. On CPUs with AVX-512 VNNI, Q4_K, Q6_K, Q5_0, Q4_0, Q4_1 and Q8_0 blocks meet
//! activations written as 24-bit integers per 256 (the 32-weight formats: per 32), f32's
//! precision for each run's largest value, and sum in integers; matrices whose rows are a
//! multiple of sixteen are first repacked sixteen rows at a time ([`rows16`]), so that one
//! instruction serves sixteen rows.
//! Opted into with [`QuantMatrix::with_activations`],
//! the activations are kept exactly f32 everywhere, or rounded to 8 bits and the sums taken
//! in integers ([`int8`]), llama.cpp's way: faster, but no longer the f32 model's product.

mod int8;
mod kernels;
mod pool;
#[cfg(target_arch = "x86_64")]
mod rows16;

use int8::{Int8Block, Quantized};
use kernels::*;

use super::dequant::is_supported;
use super::{GgmlType, SharedBytes};

/// A `[rows, cols]` weight matrix kept in its GGUF blocks.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    bytes: SharedBytes,
    ty: GgmlType,
    rows: usize,
    cols: usize,
    /// Bytes per stored row.
    row_bytes: usize,
    /// Stored row of each output row, when the two orders differ.
    row_map: Option<Vec<u32>>,
    /// How the activations enter the products.
    activations: DecodeActivations,
    /// The matrix repacked sixteen rows at a time for the AVX-512 VNNI kernels ([`rows16`]),
    /// made on the first product that takes it (`None` where it does not apply).
    #[cfg(target_arch = "x86_64")]
    rows16: std::sync::OnceLock<Option<rows16::Rows16>>,
}

/// How products of a few rows (decoding, short prompts) take their activations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DecodeActivations {
    /// Activations at f32's precision (the default; what probes and hidden-state comparisons
    /// should see). On CPUs with AVX-512 VNNI, Q4_K, Q6_K, Q5_0, Q4_0, Q4_1 and Q8_0 products
    /// write each 256 (32-weight formats: 32) activations as 24-bit integers on one step,
    /// within `2^-24` of the run's largest value (`kernels`' `vnni`, and `rows16`;
    /// `tests/decode_activations.rs` holds them to the
    /// reference tolerance of [`DecodeActivations::ExactF32`]); elsewhere the same as that.
    #[default]
    F32,
    /// Activations stay f32 in every product: the dequantized model's products up to the
    /// order of the additions, on any CPU (slower where the CPU has AVX-512 VNNI).
    ExactF32,
    /// Activations are rounded to 8 bits per 256 values before Q4_K and Q6_K blocks and per
    /// 32 before the 32-weight formats, as llama.cpp does ([`int8`]): faster decoding, hidden
    /// states off by the activations' rounding (`tests/decode_activations.rs` bounds how far against
    /// the f32 model). Q2_K, Q3_K and Q5_K keep f32.
    Int8,
}

/// Which kernels a product runs: the best the CPU has ([`Kernels::best`]), or in tests a
/// lesser set, so every set the CPU can run is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kernels {
    /// Plain Rust, for any CPU.
    Portable,
    /// AVX2, FMA and F16C ([`kernels`]'s `avx2`).
    Avx2,
    /// AVX-512 VNNI for the block types that have such a kernel (Q4_K, Q6_K, Q4_0, Q4_1, Q5_0
    /// and Q8_0 repacked, [`rows16`]; Q4_K, Q6_K and Q5_0 matrices whose rows are no multiple
    /// of sixteen, [`kernels`]'s `vnni`), AVX2 for the rest.
    Avx512Vnni,
}

impl Kernels {
    /// The best set this CPU runs.
    fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") && has!("f16c") {
                if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni") {
                    return Kernels::Avx512Vnni;
                }
                return Kernels::Avx2;
            }
        }
        Kernels::Portable
    }

    /// Every set this CPU runs.
    #[cfg(test)]
    fn available() -> Vec<Self> {
        [Kernels::Portable, Kernels::Avx2, Kernels::Avx512Vnni]
            .into_iter()
            .filter(|k| *k <= Kernels::best())
            .collect()
    }
}

/// Output rows per parallel task: enough to amortise scheduling, few enough to balance.
const ROWS_PER_TASK: usize = 64;

/// How far ahead of the row being dotted a task asks for its rows to be loaded into the cache.
/// The hardware prefetchers of the machines measured do not keep ahead of a task's stream of
/// short rows on their own; asking for them 1-4 KiB ahead made decoding 1.5-1.7x faster
/// (BENCHMARKS.md, the decode profile). They are asked into the second-level cache (`T1`):
/// with kernels fast enough to wait on memory, asking into the first stalled on its few
/// outstanding misses, and 4 KiB into the second decoded the 1.5B model 1.2x faster than 2
/// KiB into the first.
const PREFETCH_BYTES: usize = 4096;

/// The stored bytes of each of `rows` in turn (through `row_map` when set), each yielded after
/// asking the CPU to start loading the rows [`PREFETCH_BYTES`] ahead of it.
fn rows_prefetched<'a>(
    data: &'a [u8],
    row_bytes: usize,
    row_map: Option<&'a [u32]>,
    rows: std::ops::Range<usize>,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let stored = move |r: usize| row_map.map_or(r, |m| m[r] as usize);
    let ahead = PREFETCH_BYTES.div_ceil(row_bytes);
    let end = rows.end;
    // The first rows are asked for before the first is read.
    for r in rows.start..(rows.start + ahead).min(end) {
        prefetch(&data[stored(r) * row_bytes..(stored(r) + 1) * row_bytes]);
    }
    rows.map(move |r| {
        if r + ahead < end {
            let s = stored(r + ahead);
            prefetch(&data[s * row_bytes..(s + 1) * row_bytes]);
        }
        &data[stored(r) * row_bytes..(stored(r) + 1) * row_bytes]
    })
}

/// Asks the CPU to load `bytes` into its caches (a hint: no effect on the result).
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch of an address inside `bytes`; it reads nothing architecturally.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(line.as_ptr() as *const i8) };
    }
}

impl QuantMatrix {
    /// Wraps a tensor of type `ty` whose PyTorch-order shape is `[rows, cols]`, or `None`
    /// when `ty` is not a block type this module reads (f32, f16 and bf16 are not: they
    /// gain nothing over the dense path) or the bytes do not match the shape.
    pub fn new(bytes: SharedBytes, ty: GgmlType, rows: usize, cols: usize) -> Option<Self> {
        let (bs, ts) = (ty.block_size()?, ty.type_size()?);
        if !is_supported(ty) || bs == 1 || !cols.is_multiple_of(bs) || bytes.as_slice().len() != rows * (cols / bs) * ts
        {
            return None;
        }
        Some(QuantMatrix {
            bytes,
            ty,
            rows,
            cols,
            row_bytes: cols / bs * ts,
            row_map: None,
            activations: DecodeActivations::F32,
            #[cfg(target_arch = "x86_64")]
            rows16: Default::default(),
        })
    }

    /// Reads output row `r` from stored row `map[r]` (a permutation of the rows).
    pub fn with_row_map(mut self, map: Vec<u32>) -> Self {
        assert_eq!(map.len(), self.rows, "one stored row per output row");
        self.row_map = Some(map);
        #[cfg(target_arch = "x86_64")]
        {
            self.rows16 = Default::default();
        }
        self
    }

    /// Products take their activations as `a` says: at f32's precision (the default), exactly
    /// f32, or rounded to 8 bits where the block type has such a kernel
    /// ([`DecodeActivations`]).
    pub fn with_activations(mut self, a: DecodeActivations) -> Self {
        self.activations = a;
        self
    }

    /// Rows and columns.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// `x W^T` for `x` holding `m` rows of `cols` values: `[m, rows]`, row-major.
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.cols, "x holds m rows of cols values");
        if m == 0 {
            return Vec::new();
        }
        self.product(x, m, Kernels::best())
    }

    /// [`QuantMatrix::matmul_t`] through kernels `k`.
    fn product(&self, x: &[f32], m: usize, k: Kernels) -> Vec<f32> {
        let special = match self.activations {
            #[cfg(target_arch = "x86_64")]
            DecodeActivations::F32 if k == Kernels::Avx512Vnni => self.vnni_product(x, m),
            DecodeActivations::F32 | DecodeActivations::ExactF32 => None,
            DecodeActivations::Int8 => self.int8_product(x, m, k),
        };
        special.unwrap_or_else(|| self.in_tasks(m, |rows| self.dots(rows, x, m, k)))
    }

    /// `f(rows)` (the dots of output rows `rows` with each of `m` inputs) over tasks of
    /// [`ROWS_PER_TASK`] rows in parallel, assembled into `[m, rows]`.
    fn in_tasks(&self, m: usize, f: impl Fn(std::ops::Range<usize>) -> Vec<f32> + Sync) -> Vec<f32> {
        let tasks: Vec<std::ops::Range<usize>> = (0..self.rows)
            .step_by(ROWS_PER_TASK)
            .map(|a| a..(a + ROWS_PER_TASK).min(self.rows))
            .collect();
        // Each task returns its rows' dots, output-row major.
        let slots: Vec<std::sync::OnceLock<Vec<f32>>> = tasks.iter().map(|_| Default::default()).collect();
        pool::run(tasks.len(), &|t| {
            let _ = slots[t].set(f(tasks[t].clone()));
        });
        let parts = slots
            .into_iter()
            .map(|s| s.into_inner().expect("pool::run runs every task"));
        let mut out = vec![0f32; m * self.rows];
        for (r, part) in tasks.iter().zip(parts) {
            for (k, dots) in part.chunks_exact(m).enumerate() {
                for (i, d) in dots.iter().enumerate() {
                    out[i * self.rows + r.start + k] = *d;
                }
            }
        }
        out
    }

    /// Dots of output rows `rows` with each of the `m` rows of `x`, through kernels `k` (at
    /// most AVX2).
    fn dots(&self, rows: std::ops::Range<usize>, x: &[f32], m: usize, k: Kernels) -> Vec<f32> {
        let job = Job {
            data: self.bytes.as_slice(),
            row_bytes: self.row_bytes,
            cols: self.cols,
            row_map: self.row_map.as_deref(),
            rows,
            x,
            m,
            kernels: k,
        };
        match self.ty {
            GgmlType::Q4_0 => job.run::<32, 18, Q4_0>(),
            GgmlType::Q4_1 => job.run::<32, 20, Q4_1>(),
            GgmlType::Q5_0 => job.run::<32, 22, Q5_0>(),
            GgmlType::Q5_1 => job.run::<32, 24, Q5_1>(),
            GgmlType::Q8_0 => job.run::<32, 34, Q8_0>(),
            GgmlType::Q2_K => job.run::<256, 84, Q2_K>(),
            GgmlType::Q3_K => job.run::<256, 110, Q3_K>(),
            GgmlType::Q4_K => job.run::<256, 144, Q4_K>(),
            GgmlType::Q5_K => job.run::<256, 176, Q5_K>(),
            GgmlType::Q6_K => job.run::<256, 210, Q6_K>(),
            _ => unreachable!("QuantMatrix::new admits only the block types listed here"),
        }
    }
}

impl QuantMatrix {
    /// The product with 8-bit activations, `None` for a block type without such a kernel.
    fn int8_product(&self, x: &[f32], m: usize, k: Kernels) -> Option<Vec<f32>> {
        Some(match self.ty {
            GgmlType::Q4_0 => self.product_int8::<18, 32, int8::Q4_0>(x, m, k),
            GgmlType::Q4_1 => self.product_int8::<20, 32, int8::Q4_1>(x, m, k),
            GgmlType::Q5_0 => self.product_int8::<22, 32, int8::Q5_0>(x, m, k),
            GgmlType::Q5_1 => self.product_int8::<24, 32, int8::Q5_1>(x, m, k),
            GgmlType::Q8_0 => self.product_int8::<34, 32, int8::Q8_0>(x, m, k),
            GgmlType::Q4_K => self.product_int8::<144, 256, int8::Q4_K>(x, m, k),
            GgmlType::Q6_K => self.product_int8::<210, 256, int8::Q6_K>(x, m, k),
            _ => return None,
        })
    }

    fn product_int8<const TS: usize, const N: usize, E: Int8Block<TS, N>>(
        &self,
        x: &[f32],
        m: usize,
        k: Kernels,
    ) -> Vec<f32> {
        // Quantized once here rather than in every task.
        let y = int8::quantize::<N>(x);
        self.in_tasks(m, |rows| {
            Int8Job {
                data: self.bytes.as_slice(),
                row_bytes: self.row_bytes,
                row_map: self.row_map.as_deref(),
                rows,
                y: &y,
                m,
                kernels: k,
            }
            .run::<TS, E>()
        })
    }
}

/// One task's share of [`QuantMatrix::matmul_t`] with 8-bit activations.
struct Int8Job<'a, const N: usize> {
    data: &'a [u8],
    row_bytes: usize,
    row_map: Option<&'a [u32]>,
    rows: std::ops::Range<usize>,
    y: &'a [Quantized<N>],
    m: usize,
    kernels: Kernels,
}

impl<const N: usize> Int8Job<'_, N> {
    /// Runs the task for block format `E`, with AVX2, FMA and F16C when the CPU has them.
    fn run<const TS: usize, E: Int8Block<TS, N>>(&self) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if self.kernels >= Kernels::Avx2 {
            // SAFETY: `Kernels::best` found AVX2, FMA and F16C.
            return unsafe { self.run_avx2::<TS, E>() };
        }
        self.each_dot(|row, y| {
            row.chunks_exact(TS)
                .zip(y)
                .map(|(b, y)| E::dot(b.try_into().expect("chunks_exact yields TS bytes"), y))
                .sum()
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn run_avx2<const TS: usize, E: Int8Block<TS, N>>(&self) -> Vec<f32> {
        use std::arch::x86_64::_mm256_setzero_ps;
        self.each_dot(|row, y| {
            let (mut acc, mut scalar) = (_mm256_setzero_ps(), 0f32);
            for (b, y) in row.chunks_exact(TS).zip(y) {
                // SAFETY: AVX2, FMA and F16C are enabled in this function.
                let (a, s) = unsafe { E::dot_avx2(b.try_into().expect("chunks_exact yields TS bytes"), y, acc) };
                (acc, scalar) = (a, scalar + s);
            }
            // SAFETY: as above.
            unsafe { int8::hsum(acc) + scalar }
        })
    }

    /// `dot(row, y)` for each of the task's weight rows and each input row's activations.
    #[inline(always)]
    fn each_dot(&self, dot: impl Fn(&[u8], &[Quantized<N>]) -> f32) -> Vec<f32> {
        let per_row = self.y.len() / self.m;
        let mut out = Vec::with_capacity(self.rows.len() * self.m);
        for row in rows_prefetched(self.data, self.row_bytes, self.row_map, self.rows.clone()) {
            for y in self.y.chunks_exact(per_row) {
                out.push(dot(row, y));
            }
        }
        out
    }
}

/// One task's share of [`QuantMatrix::matmul_t`].
struct Job<'a> {
    data: &'a [u8],
    row_bytes: usize,
    cols: usize,
    row_map: Option<&'a [u32]>,
    rows: std::ops::Range<usize>,
    x: &'a [f32],
    m: usize,
    kernels: Kernels,
}

impl Job<'_> {
    /// Runs the task for block format `E`, on AVX2, FMA and F16C when the CPU has them.
    fn run<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if self.kernels >= Kernels::Avx2 {
            // SAFETY: `Kernels::best` found AVX2, FMA and F16C.
            return unsafe { self.run_avx2::<BS, TS, E>() };
        }
        self.run_portable::<BS, TS, E>()
    }

    fn run_portable<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        let (xs, sums) = self.activations::<BS>();
        let mut out = Vec::with_capacity(self.rows.len() * self.m);
        let mut w = [0f32; BS];
        let per_row = self.cols / BS;
        for row in rows_prefetched(self.data, self.row_bytes, self.row_map, self.rows.clone()) {
            for i in 0..self.m {
                // Eight lanes summed at the end: independent sums in one vector register.
                let (mut acc, mut scalar) = ([0f32; 8], 0f32);
                for (b, block) in row.chunks_exact(TS).enumerate() {
                    let k = i * per_row + b;
                    let block = block.try_into().expect("chunks_exact yields TS bytes");
                    let (a, s) = E::dot(block, xs[k], &sums[k], &mut w, acc);
                    (acc, scalar) = (a, scalar + s);
                }
                out.push(acc.iter().sum::<f32>() + scalar);
            }
        }
        out
    }

    /// [`Job::run_portable`] with the kernels' AVX2 versions, the row's sum in a register.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn run_avx2<const BS: usize, const TS: usize, E: Block<BS, TS>>(&self) -> Vec<f32> {
        let (xs, sums) = self.activations::<BS>();
        let mut out = Vec::with_capacity(self.rows.len() * self.m);
        let mut w = [0f32; BS];
        let per_row = self.cols / BS;
        for row in rows_prefetched(self.data, self.row_bytes, self.row_map, self.rows.clone()) {
            for i in 0..self.m {
                let at = i * per_row..(i + 1) * per_row;
                // SAFETY: the features are enabled in this function.
                out.push(unsafe { row_avx2::<BS, TS, E>(row, &xs[at.clone()], &sums[at], &mut w) });
            }
        }
        out
    }

    /// The activations in blocks of `BS`, and the sum of each 32 of each block (for the
    /// blocks' mins).
    #[inline(always)]
    fn activations<const BS: usize>(&self) -> (Vec<&[f32; BS]>, Vec<[f32; 8]>) {
        let xs: Vec<&[f32; BS]> = self
            .x
            .chunks_exact(BS)
            .map(|c| c.try_into().expect("chunks_exact yields BS values"))
            .collect();
        (xs, sums_of_32::<BS>(self.x))
    }
}

/// For each block of `BS` values of `x`, the sums of each 32 (the first `BS / 32`).
fn sums_of_32<const BS: usize>(x: &[f32]) -> Vec<[f32; 8]> {
    x.chunks_exact(BS)
        .map(|block| {
            let mut s = [0f32; 8];
            for (j, sub) in block.chunks_exact(32).enumerate() {
                s[j] = sub.iter().sum();
            }
            s
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
impl QuantMatrix {
    /// The product on AVX-512 VNNI, `None` for a block type without such a kernel.
    fn vnni_product(&self, x: &[f32], m: usize) -> Option<Vec<f32>> {
        if let Some(r) = self.rows16.get_or_init(|| rows16::Rows16::new(self)) {
            // SAFETY: only `Kernels::Avx512Vnni` comes here, which `Kernels::best` returns
            // where the CPU has the features.
            return Some(unsafe { r.product(self, x, m) });
        }
        Some(match self.ty {
            GgmlType::Q5_0 => self.product_vnni::<22, Q5_0>(x, m),
            GgmlType::Q4_K => self.product_vnni::<144, Q4_K>(x, m),
            GgmlType::Q6_K => self.product_vnni::<210, Q6_K>(x, m),
            _ => return None,
        })
    }

    fn product_vnni<const TS: usize, E: VnniBlock<TS>>(&self, x: &[f32], m: usize) -> Vec<f32> {
        // Prepared once here rather than in every task. SAFETY: only `Kernels::Avx512Vnni`
        // comes here, which `Kernels::best` returns where the CPU has the features.
        let xs = unsafe { E::prepare(x) };
        let per_row = xs.len() / m;
        self.in_tasks(m, |rows| {
            let mut out = Vec::with_capacity(rows.len() * m);
            for row in rows_prefetched(self.bytes.as_slice(), self.row_bytes, self.row_map.as_deref(), rows) {
                for i in 0..m {
                    // SAFETY: as above.
                    out.push(unsafe { row_vnni::<TS, E>(row, &xs[i * per_row..(i + 1) * per_row]) });
                }
            }
            out
        })
    }
}

/// The dot of one stored row with one input row's prepared activations, in the AVX-512 VNNI
/// kernels. Even and odd blocks go to two accumulators: the 32-weight kernels are short
/// enough that one accumulator's chain of additions, one per block, would set their speed.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn row_vnni<const TS: usize, E: VnniBlock<TS>>(row: &[u8], xs: &[E::Act]) -> f32 {
    use std::arch::x86_64::*;
    let dot = |block: &[u8], x, acc| {
        let block = block.try_into().expect("TS bytes");
        // SAFETY: the features are enabled in this function.
        unsafe { E::dot_vnni(block, x, acc) }
    };
    let (mut even, mut odd) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let pairs = row.chunks_exact(2 * TS);
    let last = pairs.remainder();
    for (two, x) in pairs.zip(xs.chunks_exact(2)) {
        even = dot(&two[..TS], &x[0], even);
        odd = dot(&two[TS..], &x[1], odd);
    }
    if !last.is_empty() {
        even = dot(last, &xs[xs.len() - 1], even);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(even, odd))
}

/// The dot of one stored row with one input row's activations `xs` (and their sums), in the
/// AVX2 kernels, even and odd blocks in two accumulators as in [`row_vnni`]. A zip over blocks,
/// activations and sums: written with indices (and their bounds checks) inside
/// [`Job::run_avx2`], the row's accumulator stayed in memory, a store and a reload every block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn row_avx2<const BS: usize, const TS: usize, E: Block<BS, TS>>(
    row: &[u8],
    xs: &[&[f32; BS]],
    sums: &[[f32; 8]],
    w: &mut [f32; BS],
) -> f32 {
    use std::arch::x86_64::*;
    let mut dot = |block: &[u8], x, s, acc| {
        let block = block.try_into().expect("TS bytes");
        // SAFETY: the features are enabled in this function.
        unsafe { E::dot_avx2(block, x, s, w, acc) }
    };
    let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let pairs = row.chunks_exact(2 * TS);
    let last = pairs.remainder();
    for ((two, x), s) in pairs.zip(xs.chunks_exact(2)).zip(sums.chunks_exact(2)) {
        even = dot(&two[..TS], x[0], &s[0], even);
        odd = dot(&two[TS..], x[1], &s[1], odd);
    }
    if !last.is_empty() {
        even = dot(last, xs[xs.len() - 1], &sums[sums.len() - 1], even);
    }
    // SAFETY: as above.
    unsafe { int8::hsum(_mm256_add_ps(even, odd)) }
}

/// Whether the CPU runs the AVX-512 VNNI kernels.
#[cfg(all(test, target_arch = "x86_64"))]
fn has_vnni() -> bool {
    Kernels::best() == Kernels::Avx512Vnni
}

#[cfg(test)]
mod tests;
