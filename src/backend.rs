//! Compute backends. The CPU backend (burn-flex, pure Rust) is always built; the `cuda`
//! feature adds burn-cuda, the `wgpu` feature burn-wgpu. Model code is generic over
//! `B: Backend`; programs pick one here.

/// burn's pure-Rust CPU backend (SIMD, multi-threaded with rayon).
pub type Cpu = burn::backend::Flex;

/// NVIDIA GPUs through burn-cuda (kernels compiled with NVRTC at run time).
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;

/// Any GPU wgpu drives (Vulkan, Metal, DX12) through burn-wgpu; on Linux its Vulkan device may
/// also be Mesa's software rasteriser (lavapipe), which is how CI runs the device code paths
/// (the ones [`is_cpu`] turns off) without a GPU.
#[cfg(feature = "wgpu")]
pub type Wgpu = burn::backend::Wgpu;

/// Makes the calling thread one of the workers of rayon's global pool (which the CPU backend
/// and kernels run their parallel loops on); call it first thing in a program's `main`. A
/// parallel loop started from a thread outside the pool is handed to the pool while that
/// thread sleeps until it is done, two thread switches per loop: on 2 cores this made SmolLM2's
/// decoding about 15% faster, when its matrix products still ran on rayon (they now run on
/// helpers of their own that also count the caller, `gguf::matvec`; BENCHMARKS.md).
/// Returns `false` (and changes nothing) when the pool was already running.
pub fn join_thread_pool() -> bool {
    rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global()
        .is_ok()
}

/// Which backend a command should run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceKind {
    /// The CPU (always available).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
    /// wgpu's preferred adapter: a GPU, else a software device such as lavapipe (needs a
    /// build with `--features wgpu`).
    Wgpu,
}

impl DeviceKind {
    /// Errors clearly when the backend was not compiled in.
    pub fn check(self) -> crate::Result<Self> {
        if self == DeviceKind::Cuda && !cfg!(feature = "cuda") {
            return Err(crate::Error::Invalid(
                "--device cuda needs mindlens built with `--features cuda`".into(),
            ));
        }
        if self == DeviceKind::Wgpu && !cfg!(feature = "wgpu") {
            return Err(crate::Error::Invalid(
                "--device wgpu needs mindlens built with `--features wgpu`".into(),
            ));
        }
        // burn-wgpu panics on first use when no adapter exists; say so up front instead.
        #[cfg(feature = "wgpu")]
        if self == DeviceKind::Wgpu && wgpu_adapters().is_empty() {
            return Err(crate::Error::Invalid(
                "--device wgpu: wgpu finds no adapter (no Vulkan, Metal or DX12 device; \
                 on Linux without a GPU, scripts/lavapipe_install.sh installs a software one)"
                    .into(),
            ));
        }
        Ok(self)
    }
}

/// The adapters [`Wgpu`] can pick from on this machine (those of burn-wgpu's graphics API for
/// the platform: Vulkan on Linux), one line each (name, kind, API, driver). Empty where there
/// is none (no GPU and no software Vulkan driver), so callers can refuse or skip instead of
/// meeting burn-wgpu's panic.
#[cfg(feature = "wgpu")]
pub fn wgpu_adapters() -> Vec<String> {
    use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};
    let instance = wgpu::Instance::default();
    let adapters = block_on(instance.enumerate_adapters(AutoGraphicsApi::backend().into()));
    adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!(
                "{} ({:?}, {:?}, {} {})",
                i.name, i.device_type, i.backend, i.driver, i.driver_info
            )
        })
        .collect()
}

/// Runs a future to completion on this thread. wgpu's native adapter enumeration is ready at
/// once, so this needs no executor (and the crate takes on none).
#[cfg(feature = "wgpu")]
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Whether `B` is the CPU backend itself (not wrapped, e.g. in autodiff): its tensors live in
/// host memory, so host-side kernels on their values cost no transfer.
pub(crate) fn is_cpu<B: burn::tensor::backend::Backend>() -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<Cpu>()
}
