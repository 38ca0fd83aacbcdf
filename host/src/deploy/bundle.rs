//! The deploy bundle: a dist folder as a gzip-compressed tar, packed by `routelet deploy` and
//! unpacked by the host only after every entry has been checked.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, bail};

use crate::dist::{SeenFiles, file_identity};
use sha2::{Digest, Sha256};

/// The media type of a bundle upload.
pub const CONTENT_TYPE: &str = "application/gzip";

/// Entries a bundle may hold; more is refused rather than filling the disk.
const MAX_ENTRIES: usize = 100_000;

/// Unpacked bytes a bundle may hold.
pub const MAX_UNPACKED_BYTES: u64 = 2 << 30;

/// The file the host writes into each deployment, skipped when packing and fingerprinting.
const HOST_FILES: &[&str] = &["deployment.json"];

/// Packs every file below `dist` into a compressed tar, in a stable order. Hard links to a
/// file already packed (an app's one JS component, linked for each route) are packed as links,
/// so its bytes travel once.
pub fn pack(dist: &Path) -> anyhow::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(encoder);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut packed = SeenFiles::<String>::default();
    for (relative, path) in files_below(dist)? {
        let identity = file_identity(&path);
        if let Some(first) = packed.get(identity) {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            header.set_mode(0o644);
            header.set_mtime(0);
            tar.append_link(&mut header, &relative, first)
                .with_context(|| format!("packing {}", path.display()))?;
            continue;
        }
        tar.append_path_with_name(&path, &relative)
            .with_context(|| format!("packing {}", path.display()))?;
        packed.insert(identity, relative);
    }
    let encoder = tar.into_inner().context("finishing the bundle")?;
    encoder.finish().context("compressing the bundle")
}

/// Unpacked bytes a bundle may expand to past [`RATIO_FLOOR`], per compressed byte read.
pub const MAX_RATIO: u64 = 100;

/// Unpacked bytes any bundle may reach before [`MAX_RATIO`] applies.
pub const RATIO_FLOOR: u64 = 64 << 20;

/// Zero bytes a tar writer may pad its archive with after the end marker (one 10 KiB record).
const MAX_END_PADDING: u64 = 10 << 10;

/// Why a bundle was refused: the entry and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The archive itself is damaged or cut short.
    #[error("the bundle is not a complete gzip-compressed tar archive: {0}")]
    Corrupt(String),
    /// One entry may not be unpacked.
    #[error("bundle entry {entry:?}: {reason}")]
    Entry { entry: String, reason: &'static str },
    /// The bundle is larger than the host accepts.
    #[error("the bundle unpacks to more than {0} bytes or {MAX_ENTRIES} files")]
    TooLarge(u64),
    /// The bundle expands far more than a dist folder does: a compression bomb.
    #[error(
        "the bundle expands more than {MAX_RATIO}-fold: {inflated} bytes unpacked from the first \
         {compressed} compressed bytes; a dist folder never compresses that well"
    )]
    Bomb { compressed: u64, inflated: u64 },
    /// Bytes follow the archive, which would be decompressed (or ignored) for nothing.
    #[error("the bundle has {0}; pack it with `routelet deploy`")]
    Trailing(&'static str),
}

/// Unpacks a bundle into the empty folder `into`, refusing anything but plain files, folders and
/// hard links to files unpacked before them, all below it: no absolute paths, no `..`, no
/// symbolic links, no devices, nothing after the end, and never more unpacked bytes than the
/// caps allow, whatever the headers claim.
pub fn unpack(bundle: impl Read, into: &Path) -> Result<usize, BundleError> {
    let meter = Rc::new(Meter::default());
    let compressed = Counted {
        inner: bundle,
        meter: meter.clone(),
    };
    let gzip = flate2::bufread::GzDecoder::new(BufReader::with_capacity(64 << 10, compressed));
    let mut archive = tar::Archive::new(Capped {
        inner: gzip,
        meter: meter.clone(),
    });
    let corrupt = |error: std::io::Error| meter.refusal().unwrap_or_else(|| damaged(error));
    let mut files = 0;
    let mut total: u64 = 0;
    let mut unpacked: HashSet<PathBuf> = HashSet::new();
    for (index, entry) in archive.entries().map_err(corrupt)?.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(BundleError::TooLarge(MAX_UNPACKED_BYTES));
        }
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason| BundleError::Entry {
            entry: name.clone(),
            reason,
        };
        let relative = safe_relative(&raw).map_err(refuse)?;
        let target = into.join(&relative);
        let kind = entry.header().entry_type();
        // A second entry of one name would write through a link into another file.
        let names_a_file = matches!(
            kind,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Link
        );
        if names_a_file && target.symlink_metadata().is_ok() {
            return Err(refuse("the bundle names this file twice"));
        }
        match kind {
            tar::EntryType::Directory => {
                crate::private::create_dir(&target).map_err(corrupt)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total += entry.header().size().map_err(corrupt)?;
                if total > MAX_UNPACKED_BYTES {
                    return Err(BundleError::TooLarge(MAX_UNPACKED_BYTES));
                }
                if let Some(parent) = target.parent() {
                    crate::private::create_dir(parent).map_err(corrupt)?;
                }
                // Whatever mode the tar says: a deployment's files are the host's alone.
                let mut file = crate::private::create_file(&target).map_err(corrupt)?;
                std::io::copy(&mut entry, &mut file).map_err(corrupt)?;
                file.flush().map_err(corrupt)?;
                unpacked.insert(relative.clone());
                files += 1;
            }
            tar::EntryType::Link => {
                // Another name for a file this bundle already unpacked, and nothing else: it
                // takes no space, and cannot reach outside.
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| refuse("a hard link without a target"))?
                    .into_owned();
                let first = safe_relative(&link).map_err(refuse)?;
                if !unpacked.contains(&first) {
                    return Err(refuse(
                        "a hard link may only name a file unpacked before it",
                    ));
                }
                if let Some(parent) = target.parent() {
                    crate::private::create_dir(parent).map_err(corrupt)?;
                }
                std::fs::hard_link(into.join(&first), &target).map_err(corrupt)?;
                unpacked.insert(relative.clone());
                files += 1;
            }
            tar::EntryType::Symlink => {
                return Err(refuse("symbolic links are not allowed in a bundle"));
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => return Err(refuse("only files and folders are allowed in a bundle")),
        }
    }
    // Past the end marker a tar writer pads with zeros; anything else, or more, is refused. Reading
    // to the end of the gzip member also checks its checksum, which a cut-off stream fails.
    let mut rest = archive.into_inner();
    let mut padding = [0u8; 4096];
    let mut padded: u64 = 0;
    loop {
        let read = rest.read(&mut padding).map_err(corrupt)?;
        if read == 0 {
            break;
        }
        padded += read as u64;
        if padded > MAX_END_PADDING || padding[..read].iter().any(|&b| b != 0) {
            return Err(BundleError::Trailing(
                "data after the end of its tar archive",
            ));
        }
    }
    let after_gzip = rest.inner.get_mut().fill_buf().map_err(corrupt)?;
    if !after_gzip.is_empty() {
        return Err(BundleError::Trailing(
            "data after the end of its gzip stream (a second gzip member?)",
        ));
    }
    Ok(files)
}

/// A read or write that failed for a reason of the archive's own.
fn damaged(error: std::io::Error) -> BundleError {
    BundleError::Corrupt(error.to_string())
}

/// Bytes read on each side of the decompressor, and the cap that stopped it, if one did.
#[derive(Default)]
struct Meter {
    compressed: Cell<u64>,
    inflated: Cell<u64>,
    refused: Cell<Option<(u64, u64, bool)>>,
}

impl Meter {
    /// The refusal a failed read stands for, when a cap (not the archive) failed it.
    fn refusal(&self) -> Option<BundleError> {
        self.refused
            .get()
            .map(|(compressed, inflated, bomb)| match bomb {
                true => BundleError::Bomb {
                    compressed,
                    inflated,
                },
                false => BundleError::TooLarge(MAX_UNPACKED_BYTES),
            })
    }
}

/// The compressed upload, counted as the decompressor reads it.
struct Counted<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.meter
            .compressed
            .set(self.meter.compressed.get() + read as u64);
        Ok(read)
    }
}

/// The decompressed stream, failing as soon as it outgrows the size or ratio caps.
struct Capped<R> {
    inner: flate2::bufread::GzDecoder<BufReader<Counted<R>>>,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        let inflated = self.meter.inflated.get() + read as u64;
        self.meter.inflated.set(inflated);
        let compressed = self.meter.compressed.get();
        // Headers and their padding may add up to 1 KiB per entry on top of the files.
        let too_large = inflated > MAX_UNPACKED_BYTES + MAX_ENTRIES as u64 * 1024 + MAX_END_PADDING;
        let bomb = inflated > RATIO_FLOOR && inflated > compressed.saturating_mul(MAX_RATIO);
        if too_large || bomb {
            self.meter.refused.set(Some((compressed, inflated, bomb)));
            return Err(std::io::Error::other("the bundle outgrew its caps"));
        }
        Ok(read)
    }
}

/// The entry's path as a relative path made only of normal names, or why not.
fn safe_relative(raw: &[u8]) -> Result<PathBuf, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "the name is not valid UTF-8")?;
    if text.contains('\\') || text.contains('\0') {
        return Err("the name contains a backslash or NUL");
    }
    let path = Path::new(text);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a path outside the dist folder (`..`)"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path");
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err("an empty name");
    }
    Ok(clean)
}

/// Every file below `dir` as (relative name with `/`, full path), sorted, host files left out.
fn files_below(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            bail!(
                "{} is not a plain file; a dist holds only files and folders",
                entry.path().display()
            );
        }
        let relative = crate::dist::slash_path(entry.path().strip_prefix(dir).expect("below"))?;
        if HOST_FILES.contains(&relative.as_str()) {
            continue;
        }
        files.push((relative, entry.path().to_path_buf()));
    }
    Ok(files)
}

/// A digest of a dist folder's names and contents, to tell whether it changed.
pub fn fingerprint(dir: &Path) -> anyhow::Result<String> {
    let mut digest = Sha256::new();
    let mut hashed = SeenFiles::<[u8; 32]>::default();
    for (relative, path) in files_below(dir)? {
        let identity = file_identity(&path);
        let file = match hashed.get(identity) {
            Some(known) => *known,
            None => {
                let file = crate::dist::sha256_file(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                hashed.insert(identity, file);
                file
            }
        };
        digest.update(relative.as_bytes());
        digest.update([0]);
        digest.update(file);
    }
    Ok(hex::encode(digest.finalize()))
}

/// Copies a dist folder, for a deployment that changes one route of another. Files linked to
/// one another in `from` are copied once and linked again in `to`, never to `from`'s files.
pub fn copy_dist(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut copied = SeenFiles::<PathBuf>::default();
    for (relative, path) in files_below(from)? {
        let target = to.join(&relative);
        if let Some(parent) = target.parent() {
            crate::private::create_dir(parent)?;
        }
        let identity = file_identity(&path);
        if let Some(first) = copied.get(identity)
            && std::fs::hard_link(first, &target).is_ok()
        {
            continue;
        }
        crate::private::copy_file(&path, &target)
            .with_context(|| format!("copying {}", path.display()))?;
        copied.insert(identity, target);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("routelet-bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A tar whose one entry has a name `tar::Builder` would refuse to write.
    fn raw_tar(name: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        let mut tar = tar::Builder::new(Vec::new());
        tar.append(&header, &b"abc"[..]).unwrap();
        let bytes = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn packs_and_unpacks_a_dist_with_the_same_fingerprint() {
        let dist = scratch("dist");
        std::fs::create_dir_all(dist.join("pages/api")).unwrap();
        std::fs::write(dist.join("pages/api/hello.wasm"), b"\0asm").unwrap();
        std::fs::write(dist.join("manifest.json"), b"{}").unwrap();
        let bundle = pack(&dist).unwrap();
        let out = scratch("out");
        assert_eq!(unpack(&bundle[..], &out).unwrap(), 2);
        assert_eq!(fingerprint(&dist).unwrap(), fingerprint(&out).unwrap());
        std::fs::write(out.join("manifest.json"), b"{ }").unwrap();
        assert_ne!(fingerprint(&dist).unwrap(), fingerprint(&out).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn hard_links_travel_once_and_unpack_as_links() {
        use std::os::unix::fs::MetadataExt;
        let dist = scratch("linked");
        std::fs::create_dir_all(dist.join("pages/api/users")).unwrap();
        // Incompressible bytes (xorshift), so three copies could not hide in the compression.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let component: Vec<u8> = (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dist.join("pages/api/a.wasm"), &component).unwrap();
        std::fs::hard_link(dist.join("pages/api/a.wasm"), dist.join("pages/api/b.wasm")).unwrap();
        std::fs::hard_link(
            dist.join("pages/api/a.wasm"),
            dist.join("pages/api/users/[id].wasm"),
        )
        .unwrap();
        let bundle = pack(&dist).unwrap();
        let one = {
            let single = scratch("single");
            std::fs::write(single.join("a.wasm"), &component).unwrap();
            pack(&single).unwrap().len()
        };
        assert!(bundle.len() < one + 4096, "{} vs {one}", bundle.len());
        let out = scratch("linked-out");
        assert_eq!(unpack(&bundle[..], &out).unwrap(), 3);
        let inode = |p: &str| std::fs::metadata(out.join(p)).unwrap().ino();
        assert_eq!(
            inode("pages/api/a.wasm"),
            inode("pages/api/users/[id].wasm")
        );
        assert_eq!(
            std::fs::read(out.join("pages/api/b.wasm")).unwrap(),
            component
        );
        assert_eq!(fingerprint(&dist).unwrap(), fingerprint(&out).unwrap());

        // A copy links its own files, never the original's.
        let copy = scratch("linked-copy");
        copy_dist(&out, &copy).unwrap();
        assert_eq!(
            std::fs::metadata(copy.join("pages/api/a.wasm"))
                .unwrap()
                .ino(),
            std::fs::metadata(copy.join("pages/api/b.wasm"))
                .unwrap()
                .ino()
        );
        assert_ne!(
            std::fs::metadata(copy.join("pages/api/a.wasm"))
                .unwrap()
                .ino(),
            inode("pages/api/a.wasm")
        );
    }

    /// A tar of `entries`: (name, kind, link target), each file holding `abc`.
    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, kind, target) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            if *kind == tar::EntryType::Link {
                header.set_size(0);
                tar.append_link(&mut header, name, target).unwrap();
            } else {
                header.set_size(3);
                tar.append_data(&mut header, name, &b"abc"[..]).unwrap();
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn refuses_hard_links_out_of_the_bundle_and_names_written_twice() {
        use tar::EntryType::{Link, Regular};
        for (entries, reason) in [
            (vec![("a.wasm", Link, "/etc/passwd")], "absolute"),
            (vec![("a.wasm", Link, "../outside.wasm")], "outside"),
            (vec![("a.wasm", Link, "b.wasm")], "unpacked before it"),
            (
                vec![
                    ("a.wasm", Regular, ""),
                    ("b.wasm", Link, "a.wasm"),
                    ("b.wasm", Regular, ""),
                ],
                "twice",
            ),
        ] {
            let out = scratch("hostile-links");
            let error = unpack(&tar_of(&entries)[..], &out).unwrap_err().to_string();
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn refuses_traversal_absolute_paths_and_links() {
        let out = scratch("hostile");
        for (name, kind, reason) in [
            ("../x.wasm", tar::EntryType::Regular, "outside"),
            ("pages/../../x.wasm", tar::EntryType::Regular, "outside"),
            ("/etc/x.wasm", tar::EntryType::Regular, "absolute"),
            ("pages/link.wasm", tar::EntryType::Symlink, "links"),
            ("pages/dev", tar::EntryType::Char, "only files"),
        ] {
            let error = unpack(&raw_tar(name, kind)[..], &out).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(name) && message.contains(reason),
                "{message}"
            );
        }
        assert!(!out.parent().unwrap().join("x.wasm").exists());
    }

    #[test]
    fn refuses_a_bundle_cut_off_halfway() {
        let dist = scratch("cut");
        std::fs::write(dist.join("big.bin"), vec![7u8; 200_000]).unwrap();
        let bundle = pack(&dist).unwrap();
        let out = scratch("cut-out");
        let error = unpack(&bundle[..bundle.len() / 2], &out).unwrap_err();
        assert!(matches!(error, BundleError::Corrupt(_)), "{error}");
    }

    /// A tar of one small file, then `after` inside the same gzip member.
    fn tar_then(after: impl Read) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_data(&mut header, "manifest.json", &b"{ }"[..])
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar.into_inner().unwrap()).unwrap();
        std::io::copy(&mut { after }, &mut gz).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn zero_padding_after_the_end_is_fine_but_nothing_else_is() {
        let out = scratch("trailing");
        // GNU tar pads its archives to a 10 KiB record.
        assert_eq!(unpack(&tar_then(&[0u8; 9216][..])[..], &out).unwrap(), 1);
        for after in [&b"\0\0junk"[..], &[0u8; 64 << 10][..]] {
            let error = unpack(&tar_then(after)[..], &scratch("trailing-junk")).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("data after the end of its tar archive"),
                "{error}"
            );
        }
        let mut two_members = tar_then(&[][..]);
        two_members.extend(tar_then(&[][..]));
        let error = unpack(&two_members[..], &scratch("two-members")).unwrap_err();
        assert!(
            error.to_string().contains("a second gzip member"),
            "{error}"
        );
    }

    #[test]
    fn a_compression_bomb_is_stopped_early_whatever_the_headers_say() {
        // A gigabyte of zeros after the end: refused past the padding a tar may have, long
        // before it is all decompressed.
        let bomb = tar_then(std::io::repeat(0).take(1 << 30));
        let mut counted = 0;
        let error = unpack(
            CountingSlice {
                bytes: &bomb,
                read: &mut counted,
            },
            &scratch("bomb"),
        )
        .unwrap_err();
        assert!(matches!(error, BundleError::Trailing(_)), "{error}");
        assert!(
            counted < bomb.len() / 10,
            "read {counted} of {}",
            bomb.len()
        );

        // An entry whose data is a run of zeros is stopped the same way.
        let mut header = tar::Header::new_gnu();
        header.set_size(1 << 30);
        header.set_mode(0o644);
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        tar.append_data(
            &mut header,
            "public/zeros.bin",
            std::io::repeat(0).take(1 << 30),
        )
        .unwrap();
        let bomb = tar.into_inner().unwrap().finish().unwrap();
        let mut counted = 0;
        let error = unpack(
            CountingSlice {
                bytes: &bomb,
                read: &mut counted,
            },
            &scratch("bomb-entry"),
        )
        .unwrap_err();
        assert!(matches!(error, BundleError::Bomb { .. }), "{error}");
        assert!(
            error.to_string().contains("expands more than 100-fold"),
            "{error}"
        );
        assert!(counted < bomb.len() / 2, "read {counted} of {}", bomb.len());
    }

    /// A reader over a slice that counts what was taken from it.
    struct CountingSlice<'a> {
        bytes: &'a [u8],
        read: &'a mut usize,
    }

    impl Read for CountingSlice<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut rest = &self.bytes[*self.read..];
            let n = rest.read(buf)?;
            *self.read += n;
            Ok(n)
        }
    }
}
