//! The chunk rules of file uploads, from the spec's figures: one implementation that the
//! client's [`ChunkPlan`] and the mock server's check share.
//!
//! `total_chunk_count = floor(video_size / chunk_size)`; every chunk is 5 MB to 64 MB but
//! the last, which absorbs the trailing bytes and may reach 128 MB; a video under 5 MB goes
//! whole; 1 to 1,000 chunks. TikTok does not say whether "MB" is 10^6 or 2^20 bytes
//! ([`crate::spec_constants::MB_READINGS`]): [`ChunkRules::lenient`] accepts both readings at each
//! boundary (a server's check), [`ChunkRules::strict`] demands both (a client's plan, so
//! that it passes whichever reading the server uses).

use crate::spec_constants::{
    CHUNK_MAX_FINAL_MB, CHUNK_MAX_MB, CHUNK_MIN_MB, MAX_CHUNKS, MB_READINGS, MIN_CHUNKS,
};

/// The chunk rules in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRules {
    /// Smallest chunk but a whole video.
    pub min_chunk: u64,
    /// Largest chunk but the last; also the largest video sent whole.
    pub max_chunk: u64,
    /// Largest last chunk.
    pub max_final: u64,
    /// A video below this many bytes may go whole in one chunk smaller than `min_chunk`.
    pub whole_below: u64,
    /// Fewest chunks.
    pub min_chunks: u64,
    /// Most chunks.
    pub max_chunks: u64,
}

/// Why sizes break the chunk rules, or why no plan exists for a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// A size or count is zero.
    #[error("video_size, chunk_size and total_chunk_count must be positive")]
    NotPositive,
    /// `chunk_size > video_size`.
    #[error("chunk_size ({chunk_size}) must not exceed video_size ({video_size})")]
    ChunkLargerThanVideo {
        /// The chunk size.
        chunk_size: u64,
        /// The video size.
        video_size: u64,
    },
    /// `total_chunk_count` is not `floor(video_size / chunk_size)`.
    #[error("total_chunk_count must be floor(video_size / chunk_size) = {expected}, found {found}")]
    WrongCount {
        /// What the rule gives.
        expected: u64,
        /// What was sent.
        found: u64,
    },
    /// Too few or too many chunks.
    #[error("a video has {min} to {max} chunks, found {found}")]
    ChunkCount {
        /// Fewest.
        min: u64,
        /// Most.
        max: u64,
        /// Found.
        found: u64,
    },
    /// A video sent whole is above the largest chunk.
    #[error(
        "a video over {} MB ({max} bytes) must be sent in chunks of {} MB to {} MB",
        CHUNK_MAX_MB,
        CHUNK_MIN_MB,
        CHUNK_MAX_MB
    )]
    WholeTooLarge {
        /// The largest video sent whole.
        max: u64,
    },
    /// A video in a single chunk (not whole) is above the largest chunk.
    #[error(
        "a video over {} MB ({max} bytes) must be sent in more than one chunk",
        CHUNK_MAX_MB
    )]
    SingleChunkTooLarge {
        /// The largest video in one chunk.
        max: u64,
    },
    /// A chunk is below the smallest size and the video is not sent whole.
    #[error(
        "chunk_size ({chunk_size}) is below {} MB ({min} bytes); only a video under {} MB (below {whole_below} bytes) is sent whole, with chunk_size = video_size",
        CHUNK_MIN_MB,
        CHUNK_MIN_MB
    )]
    ChunkTooSmall {
        /// The chunk size.
        chunk_size: u64,
        /// The smallest chunk.
        min: u64,
        /// Videos below this size go whole.
        whole_below: u64,
    },
    /// A chunk is above the largest size.
    #[error("chunk_size ({chunk_size}) is above {} MB ({max} bytes)", CHUNK_MAX_MB)]
    ChunkTooLarge {
        /// The chunk size.
        chunk_size: u64,
        /// The largest chunk.
        max: u64,
    },
    /// The last chunk is above its largest size.
    #[error(
        "the last chunk ({last} bytes) is above {} MB ({max} bytes)",
        CHUNK_MAX_FINAL_MB
    )]
    LastTooLarge {
        /// The last chunk's size.
        last: u64,
        /// Its largest size.
        max: u64,
    },
    /// The rules themselves allow nothing (bounds out of order, no chunks).
    #[error("chunk rules out of order: {0:?}")]
    InvalidRules(ChunkRules),
    /// No plan exists: the video is empty.
    #[error("the video is empty")]
    Empty,
    /// No plan exists: the video is larger than the rules allow.
    #[error("the video has {size} bytes; the chunk rules allow at most {max}")]
    TooLarge {
        /// The video's size.
        size: u64,
        /// The largest size a plan exists for.
        max: u64,
    },
}

/// The smallest and largest reading of `mb` MB in bytes.
fn readings(mb: u64) -> (u64, u64) {
    let smallest = MB_READINGS.iter().copied().min().unwrap_or(1_000_000);
    let largest = MB_READINGS.iter().copied().max().unwrap_or(1_048_576);
    (mb.saturating_mul(smallest), mb.saturating_mul(largest))
}

impl ChunkRules {
    /// The rules as a server should check them: every reading of "MB" passes at every
    /// boundary (a lower bound takes the smaller reading, an upper bound the larger).
    pub fn lenient() -> Self {
        ChunkRules {
            min_chunk: readings(CHUNK_MIN_MB).0,
            max_chunk: readings(CHUNK_MAX_MB).1,
            max_final: readings(CHUNK_MAX_FINAL_MB).1,
            whole_below: readings(CHUNK_MIN_MB).1,
            min_chunks: MIN_CHUNKS,
            max_chunks: MAX_CHUNKS,
        }
    }

    /// The rules as a client should plan by them: sizes that pass under every reading of
    /// "MB" (a lower bound takes the larger reading, an upper bound the smaller).
    pub fn strict() -> Self {
        ChunkRules {
            min_chunk: readings(CHUNK_MIN_MB).1,
            max_chunk: readings(CHUNK_MAX_MB).0,
            max_final: readings(CHUNK_MAX_FINAL_MB).0,
            whole_below: readings(CHUNK_MIN_MB).0,
            min_chunks: MIN_CHUNKS,
            max_chunks: MAX_CHUNKS,
        }
    }

    /// Checks an init call's `video_size`, `chunk_size` and `total_chunk_count`.
    pub fn check(
        &self,
        video_size: u64,
        chunk_size: u64,
        total_chunk_count: u64,
    ) -> Result<(), ChunkError> {
        if video_size == 0 || chunk_size == 0 || total_chunk_count == 0 {
            return Err(ChunkError::NotPositive);
        }
        if chunk_size > video_size {
            return Err(ChunkError::ChunkLargerThanVideo {
                chunk_size,
                video_size,
            });
        }
        let expected = video_size / chunk_size;
        if total_chunk_count != expected {
            return Err(ChunkError::WrongCount {
                expected,
                found: total_chunk_count,
            });
        }
        if !(self.min_chunks..=self.max_chunks).contains(&total_chunk_count) {
            return Err(ChunkError::ChunkCount {
                min: self.min_chunks,
                max: self.max_chunks,
                found: total_chunk_count,
            });
        }
        if chunk_size == video_size {
            if video_size > self.max_chunk {
                return Err(ChunkError::WholeTooLarge {
                    max: self.max_chunk,
                });
            }
            return Ok(());
        }
        if chunk_size < self.min_chunk {
            return Err(ChunkError::ChunkTooSmall {
                chunk_size,
                min: self.min_chunk,
                whole_below: self.whole_below,
            });
        }
        if chunk_size > self.max_chunk {
            return Err(ChunkError::ChunkTooLarge {
                chunk_size,
                max: self.max_chunk,
            });
        }
        if total_chunk_count == 1 && video_size > self.max_chunk {
            return Err(ChunkError::SingleChunkTooLarge {
                max: self.max_chunk,
            });
        }
        let last = video_size - (total_chunk_count - 1) * chunk_size;
        if last > self.max_final {
            return Err(ChunkError::LastTooLarge {
                last,
                max: self.max_final,
            });
        }
        Ok(())
    }

    /// The largest video a plan exists for: as many full chunks as allowed, the last one
    /// as large as allowed (0 for rules that allow nothing).
    pub fn max_video_size(&self) -> u64 {
        let chunk = self.max_chunk.min(self.max_final);
        let last = self
            .max_final
            .min(chunk.saturating_mul(2).saturating_sub(1));
        self.max_chunks
            .saturating_sub(1)
            .saturating_mul(chunk)
            .saturating_add(last)
    }

    /// Whether the rules allow any plan at all: chunk bounds in order, at least one chunk.
    fn is_consistent(&self) -> bool {
        0 < self.min_chunk
            && self.min_chunk <= self.max_chunk
            && self.max_chunk <= self.max_final
            && 0 < self.min_chunks
            && self.min_chunks <= self.max_chunks
    }
}

/// How a video of a given size is cut: `chunk_size` and `total_chunk_count` for the init
/// call, and the byte range of each chunk for the PUTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// `video_size`.
    pub video_size: u64,
    /// `chunk_size`.
    pub chunk_size: u64,
    /// `total_chunk_count`.
    pub total_chunk_count: u64,
}

impl ChunkPlan {
    /// The chunk size a plan prefers: small chunks keep the uploader's memory low.
    pub const PREFERRED_CHUNK_BYTES: u64 = 10_000_000;

    /// A plan for a video of `video_size` bytes that passes the chunk rules under every
    /// reading of "MB": whole up to [`ChunkPlan::PREFERRED_CHUNK_BYTES`] (the rules send a
    /// video under 5 MB whole and allow it up to 64 MB); otherwise chunks of about 10 MB,
    /// larger only as needed to stay within 1,000 chunks.
    pub fn for_size(video_size: u64) -> Result<Self, ChunkError> {
        Self::with_rules(
            video_size,
            &ChunkRules::strict(),
            Self::PREFERRED_CHUNK_BYTES,
        )
    }

    /// A plan under `rules`, with chunks of `preferred` bytes where the rules allow.
    pub fn with_rules(
        video_size: u64,
        rules: &ChunkRules,
        preferred: u64,
    ) -> Result<Self, ChunkError> {
        if video_size == 0 {
            return Err(ChunkError::Empty);
        }
        if !rules.is_consistent() {
            return Err(ChunkError::InvalidRules(*rules));
        }
        let max = rules.max_video_size();
        if video_size > max {
            return Err(ChunkError::TooLarge {
                size: video_size,
                max,
            });
        }
        if video_size <= preferred.max(rules.min_chunk).min(rules.max_chunk) {
            return Ok(ChunkPlan::whole(video_size));
        }
        // At least `preferred`, at least enough to stay within max_chunks (the last chunk
        // absorbs the remainder), within [min_chunk, max_chunk].
        let needed = video_size.div_ceil(rules.max_chunks);
        let chunk_size = preferred
            .max(needed)
            .clamp(rules.min_chunk, rules.max_chunk)
            .min(video_size);
        let plan = ChunkPlan {
            video_size,
            chunk_size,
            total_chunk_count: video_size / chunk_size,
        };
        // A remainder that makes the last chunk too large is absorbed by one more chunk
        // size step; check and fall back to the largest chunks.
        if rules
            .check(video_size, chunk_size, plan.total_chunk_count)
            .is_ok()
        {
            return Ok(plan);
        }
        let chunk_size = rules.max_chunk.min(video_size);
        let plan = ChunkPlan {
            video_size,
            chunk_size,
            total_chunk_count: video_size / chunk_size,
        };
        rules.check(video_size, chunk_size, plan.total_chunk_count)?;
        Ok(plan)
    }

    fn whole(video_size: u64) -> Self {
        ChunkPlan {
            video_size,
            chunk_size: video_size,
            total_chunk_count: 1,
        }
    }

    /// The byte range `first..=last` of chunk `index` (0-based); the last chunk absorbs
    /// the remainder.
    pub fn range(&self, index: u64) -> Option<(u64, u64)> {
        if index >= self.total_chunk_count {
            return None;
        }
        let first = index * self.chunk_size;
        let last = if index + 1 == self.total_chunk_count {
            self.video_size - 1
        } else {
            first + self.chunk_size - 1
        };
        Some((first, last))
    }

    /// The `Content-Range` header of chunk `index`: `bytes FIRST-LAST/TOTAL`.
    pub fn content_range(&self, index: u64) -> Option<String> {
        self.range(index)
            .map(|(first, last)| format!("bytes {first}-{last}/{}", self.video_size))
    }

    /// The largest chunk of the plan (the last one), in bytes: the uploader's buffer.
    pub fn largest_chunk(&self) -> u64 {
        self.range(self.total_chunk_count.saturating_sub(1))
            .map_or(self.chunk_size, |(first, last)| last - first + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plan_passes_both_rule_sets() {
        let sizes = [
            1,
            4_999_999,
            5_000_000,
            5_242_880,
            10_000_000,
            19_999_999,
            64_000_000,
            200_000_000,
            1_000_000_000,
            10_000_000_000,
            ChunkRules::strict().max_video_size(),
        ];
        for size in sizes {
            let plan = ChunkPlan::for_size(size).unwrap();
            for rules in [ChunkRules::strict(), ChunkRules::lenient()] {
                assert_eq!(
                    rules.check(size, plan.chunk_size, plan.total_chunk_count),
                    Ok(()),
                    "{size}: {plan:?}"
                );
            }
            let (_, last) = plan.range(plan.total_chunk_count - 1).unwrap();
            assert_eq!(last, size - 1);
        }
    }

    #[test]
    fn rules_that_allow_nothing_are_an_error_not_a_panic() {
        let rules = ChunkRules {
            min_chunk: 10,
            max_chunk: 5,
            ..ChunkRules::strict()
        };
        assert!(matches!(
            ChunkPlan::with_rules(100, &rules, 7),
            Err(ChunkError::InvalidRules(_))
        ));
        let none = ChunkRules {
            max_chunks: 0,
            min_chunks: 0,
            ..ChunkRules::strict()
        };
        assert!(ChunkPlan::with_rules(100, &none, 7).is_err());
        assert_eq!(
            ChunkRules {
                max_chunk: 0,
                max_final: 0,
                ..none
            }
            .max_video_size(),
            0
        );
    }

    #[test]
    fn sizes_without_a_plan_are_typed_errors() {
        assert_eq!(ChunkPlan::for_size(0), Err(ChunkError::Empty));
        let max = ChunkRules::strict().max_video_size();
        assert_eq!(
            ChunkPlan::for_size(max + 1),
            Err(ChunkError::TooLarge { size: max + 1, max })
        );
    }

    #[test]
    fn ranges_cover_the_video_in_order() {
        let plan = ChunkPlan::for_size(25_000_123).unwrap();
        assert_eq!(plan.chunk_size, 10_000_000);
        assert_eq!(plan.total_chunk_count, 2);
        assert_eq!(plan.range(0), Some((0, 9_999_999)));
        assert_eq!(plan.range(1), Some((10_000_000, 25_000_122)));
        assert_eq!(plan.range(2), None);
        assert_eq!(
            plan.content_range(1).as_deref(),
            Some("bytes 10000000-25000122/25000123")
        );
        assert_eq!(plan.largest_chunk(), 15_000_123);
    }

    #[test]
    fn lenient_rules_accept_both_readings_at_each_boundary() {
        let rules = ChunkRules::lenient();
        assert_eq!(rules.check(50_000_000, 5_000_000, 10), Ok(()));
        assert_eq!(rules.check(52_428_800, 5_242_880, 10), Ok(()));
        assert!(matches!(
            rules.check(50_000_000, 5_000_000, 9),
            Err(ChunkError::WrongCount {
                expected: 10,
                found: 9
            })
        ));
        assert!(matches!(
            rules.check(49_999_990, 4_999_999, 10),
            Err(ChunkError::ChunkTooSmall { .. })
        ));
        assert_eq!(rules.check(67_108_864, 67_108_864, 1), Ok(()));
        assert!(matches!(
            rules.check(67_108_865, 67_108_865, 1),
            Err(ChunkError::WholeTooLarge { .. })
        ));
    }
}
