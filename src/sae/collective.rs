//! Data-parallel training's one collective step: averaging a batch's gradients across
//! replicas with burn-collective's all-reduce. One process drives the devices of one machine,
//! each replica on a thread of its own; every replica calls the same operations in the same
//! order, and each blocks until all have.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use burn_collective::{all_reduce, finish_collective, register, CollectiveConfig, PeerId, ReduceOperation};

use crate::{Error, Result};

/// One replica's membership of the collective.
#[derive(Debug)]
pub struct Peer {
    id: PeerId,
    /// Replicas in all.
    pub count: usize,
}

fn failed(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Invalid(format!("data-parallel training: {what} across devices failed: {e:?}"))
}

impl Peer {
    /// Joins replica `index` of `count`, on `device`, to the collective.
    pub fn register<I: Backend>(index: usize, count: usize, device: &I::Device) -> Result<Self> {
        let id = PeerId::from(index as u32);
        let config = CollectiveConfig::default().with_num_devices(count);
        register::<I>(id, device.clone(), config).map_err(|e| failed("registering", e))?;
        Ok(Peer { id, count })
    }

    /// The element-wise mean of `t` over the replicas.
    pub fn mean<I: Backend, const D: usize>(&self, t: Tensor<I, D>) -> Result<Tensor<I, D>> {
        self.reduce(t, ReduceOperation::Mean)
    }

    /// The element-wise sum of `t` over the replicas.
    pub fn sum<I: Backend, const D: usize>(&self, t: Tensor<I, D>) -> Result<Tensor<I, D>> {
        self.reduce(t, ReduceOperation::Sum)
    }

    fn reduce<I: Backend, const D: usize>(&self, t: Tensor<I, D>, op: ReduceOperation) -> Result<Tensor<I, D>> {
        let out = all_reduce::<I>(self.id, t.into_primitive().tensor(), op).map_err(|e| failed("all-reduce", e))?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
    }

    /// Leaves the collective.
    pub fn finish<I: Backend>(self) -> Result<()> {
        finish_collective::<I>(self.id).map_err(|e| failed("closing the collective", e))
    }
}
