//! Capture activations, build a contrastive direction, and steer generation with it.
//!
//! `cargo run --release --example quickstart` (fetches SmolLM2-135M-Instruct on first use).

use mindlens::chat::ChatMessage;
use mindlens::prelude::*;
use mindlens::prompts::PromptInput;

fn main() -> Result<()> {
    mindlens::backend::join_thread_pool();
    let model = Model::<Cpu>::load(mindlens::registry::DEFAULT_MODEL, &Default::default())?;
    let layer = 12;
    let point = HookPoint::ResidPost(layer);

    // 1. Capture the residual stream at the last token of contrastive prompts.
    let cheerful = [
        "I love sunny days, everything feels wonderful!",
        "What a fantastic, joyful surprise!",
    ];
    let gloomy = [
        "I hate rainy days, everything feels miserable.",
        "What a terrible, depressing letdown.",
    ];
    let mean_last = |texts: &[&str]| -> Result<Vec<f32>> {
        let ids = texts
            .iter()
            .map(|t| model.tokenizer.encode(t, true))
            .collect::<Result<Vec<_>, _>>()?;
        let mut hooks = HookSet::capture([point]);
        model.run(&ids, &mut hooks, LogitsMode::None)?;
        let cap = hooks.captured(point).expect("captured");
        let mut mean = vec![0f32; model.config.d_model];
        for r in 0..ids.len() {
            let a = cap.row(r);
            for (m, x) in mean.iter_mut().zip(a.row(a.nrows() - 1)) {
                *m += x / ids.len() as f32;
            }
        }
        Ok(mean)
    };
    let (pos, neg) = (mean_last(&cheerful)?, mean_last(&gloomy)?);
    let direction: Vec<f32> = pos.iter().zip(&neg).map(|(a, b)| a - b).collect();
    let norm = direction.iter().map(|x| x * x).sum::<f32>().sqrt();
    println!("cheerful - gloomy direction at {point}: norm {norm:.2}");

    // 2. Generate with the direction added at every position, both ways.
    let prompt = model.encode(&PromptInput::Messages(vec![ChatMessage::user(
        "Describe your weekend in two sentences.",
    )]))?;
    let opts = GenerateOptions {
        max_new_tokens: 40,
        ..Default::default()
    };
    for coef in [-1.5f32, 0.0, 1.5] {
        let mut hooks = HookSet::default();
        hooks.intervene(
            Intervention::add(point, direction.clone(), coef),
            model.config.d_model,
            model.device(),
        )?;
        let out = model.generate(std::slice::from_ref(&prompt), &opts, &mut hooks)?;
        println!("\ncoef {coef:+.1}: {}", out[0].text.trim());
    }
    Ok(())
}
