//! The TypeScript declarations a build leaves in an app with TypeScript routes, so editors and
//! `tsc` check `import type { NextApiRequest } from 'next'` and `import { kv } from 'routelet'`
//! without `next` installed: the SDK's `.d.ts` files copied under `.routelet/types/`, and
//! `routelet-env.d.ts` at the app's root referencing them (as `next build` writes
//! `next-env.d.ts`).

use std::path::Path;

use anyhow::Context;

/// The file at the app's root that a `tsconfig.json` includes.
pub const ENV_FILE: &str = "routelet-env.d.ts";

/// The SDK's declaration files, in the order the env file references them.
const DECLARATIONS: &[&str] = &["next.d.ts", "routelet.d.ts", "globals.d.ts"];

/// Writes the declarations into `app` when one of `routes` is TypeScript or the app has a
/// `tsconfig.json`; files already up to date are left alone.
pub fn write(app: &Path, sdk: &Path, routes: &[&str]) -> anyhow::Result<()> {
    let typescript = routes
        .iter()
        .any(|route| route.ends_with(".ts") || route.ends_with(".mts"));
    if !typescript && !app.join("tsconfig.json").is_file() {
        return Ok(());
    }
    let types = app.join(".routelet").join("types");
    std::fs::create_dir_all(&types).with_context(|| format!("creating {}", types.display()))?;
    let mut env = String::from(
        "// Written by `routelet build`: the types of 'next' and 'routelet' for TypeScript routes.\n\
         // Do not edit it; list it in tsconfig.json's \"include\".\n",
    );
    for name in DECLARATIONS {
        let from = sdk.join("types").join(name);
        let text = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        replace_if_changed(&types.join(name), &text)?;
        env.push_str(&format!(
            "/// <reference path=\"./.routelet/types/{name}\" />\n"
        ));
    }
    replace_if_changed(&app.join(ENV_FILE), env.as_bytes())
}

/// Writes `path` through a temporary file and a rename, so an editor or a parallel build never
/// reads half of it; an unchanged file is not touched.
fn replace_if_changed(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    let dir = path.parent().expect("a file in a folder");
    let mut temporary = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut temporary, contents)
        .with_context(|| format!("writing {}", path.display()))?;
    temporary
        .persist(path)
        .map(drop)
        .with_context(|| format!("writing {}", path.display()))
}
