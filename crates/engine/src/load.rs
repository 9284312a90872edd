//! Compiling the dial plan with real prompts: every sound file is decoded once, here, and
//! shared by all calls. A reload reuses prompts whose files have not changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use vaxel_media::Prompt;
use vaxel_plan::{Diagnostic, Plan, SoundLoader};

/// Decodes sound files with `vaxel-media`, caching them by path and modification time.
#[derive(Default)]
pub struct PromptLoader {
    cache: HashMap<PathBuf, (Option<SystemTime>, Prompt)>,
}

impl SoundLoader for PromptLoader {
    type Sound = Prompt;

    fn load(&mut self, path: &Path) -> Result<Prompt, String> {
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if let Some((t, p)) = self.cache.get(path) {
            if *t == mtime && mtime.is_some() {
                return Ok(p.clone());
            }
        }
        let prompt = Prompt::load(path).map_err(|e| e.to_string())?;
        self.cache
            .insert(path.to_path_buf(), (mtime, prompt.clone()));
        Ok(prompt)
    }
}

/// Loads and compiles the config file.
pub fn load_plan(path: &Path, loader: &mut PromptLoader) -> Result<Plan<Prompt>, Vec<Diagnostic>> {
    vaxel_plan::load_file(path, loader)
}
