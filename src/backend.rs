//! Compute backends. The CPU backend (burn-flex, pure Rust) is always built; the `cuda`
//! feature adds burn-cuda. Model code is generic over `B: Backend`; programs pick one here.

/// burn's pure-Rust CPU backend (SIMD, multi-threaded with rayon).
pub type Cpu = burn::backend::Flex;

/// NVIDIA GPUs through burn-cuda (kernels compiled with NVRTC at run time).
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;

/// Which backend a command should run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceKind {
    /// The CPU (always available).
    #[default]
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

impl DeviceKind {
    /// Errors clearly when the backend was not compiled in.
    pub fn check(self) -> crate::Result<Self> {
        if self == DeviceKind::Cuda && !cfg!(feature = "cuda") {
            return Err(crate::Error::Invalid(
                "--device cuda needs mindlens built with `--features cuda`".into(),
            ));
        }
        Ok(self)
    }
}

/// Whether `B` is the CPU backend itself (not wrapped, e.g. in autodiff): its tensors live in
/// host memory, so host-side kernels on their values cost no transfer.
pub(crate) fn is_cpu<B: burn::tensor::backend::Backend>() -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<Cpu>()
}
