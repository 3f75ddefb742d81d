//! The suite's steps, one concept per file, sharing one [`Ctx`].

pub(super) mod directions;
pub(super) mod examples;
pub(super) mod monitor;
pub(super) mod score;
pub(super) mod steering;
pub(super) mod target;
pub(super) mod yardstick;

use burn::tensor::backend::Backend;

use super::data::Data;
use super::options::PersonalityOptions;
use crate::concepts::SuiteRun;
use crate::model::Model;

/// What the steering, monitoring and example steps share.
pub(super) struct Ctx<'a, B: Backend> {
    pub model: &'a Model<B>,
    pub opts: &'a PersonalityOptions,
    pub run: &'a SuiteRun,
    pub data: Data,
    /// Tokenised neutral prompts, the KL yardstick.
    pub neutral: Vec<Vec<u32>>,
    /// Strengths swept, both signs and 0.
    pub alphas: Vec<f32>,
    /// Harvested layers the selection rule may pick (below the last 20% of blocks).
    pub eligible: Vec<usize>,
}
