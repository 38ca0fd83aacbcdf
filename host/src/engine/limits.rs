//! Memory and time limits every guest runs under.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Limits applied to every instance; safe by default.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock time one request may take until its response starts.
    pub timeout: Duration,
    /// Instances that may exist at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_instances: 1000,
        }
    }
}

/// Refuses memory growth past the limit, and remembers that it did so the trap can be named.
pub struct MemoryLimiter {
    limit: usize,
    hit: Arc<AtomicBool>,
}

impl MemoryLimiter {
    /// A limiter for one store.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            hit: Arc::default(),
        }
    }

    /// Set once growth was refused, so a trap can be named a memory limit.
    pub fn hit(&self) -> Arc<AtomicBool> {
        self.hit.clone()
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_limit_and_remembers() {
        let mut limiter = MemoryLimiter::new(1024);
        let hit = limiter.hit();
        assert!(limiter.memory_growing(0, 1024, None).unwrap());
        assert!(!hit.load(Ordering::Relaxed));
        assert!(!limiter.memory_growing(1024, 1025, None).unwrap());
        assert!(hit.load(Ordering::Relaxed));
    }
}
