//! The mixer's one error type. Each variant has a stable machine-readable
//! `code()` that the Python binding exposes as `MixerError.code`; codes never
//! change once published.

use std::fmt;

/// Everything the mixer can refuse or fail at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MixerError {
    /// PCM handed to an encoder was not exactly one frame (1,920 bytes of s16le).
    BadPcmLength { got: usize },
    /// An Opus packet over `MAX_PACKET_BYTES`; refused before it is looked at.
    PacketTooLarge { len: usize },
    /// A constructor or call argument out of its range.
    BadArgument { name: &'static str, reason: &'static str },
    /// libopus refused: a corrupt packet, or (never with valid settings) an encoder failure.
    Codec { function: &'static str, reason: &'static str },
}

impl MixerError {
    /// The stable code: `bad_pcm_length`, `packet_too_large`, `bad_argument`, `codec_error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPcmLength { .. } => "bad_pcm_length",
            Self::PacketTooLarge { .. } => "packet_too_large",
            Self::BadArgument { .. } => "bad_argument",
            Self::Codec { .. } => "codec_error",
        }
    }

    /// What to do: true when the fault lies in bytes a remote sender produced
    /// (drop that packet and carry on); false when the caller passed a wrong
    /// argument, which is a bug to fix rather than traffic to tolerate.
    pub fn is_sender_fault(&self) -> bool {
        matches!(self, Self::PacketTooLarge { .. } | Self::Codec { .. })
    }
}

impl fmt::Display for MixerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPcmLength { got } => write!(
                f,
                "PCM must be exactly {} bytes of s16le (one 20 ms frame), got {got}",
                crate::FRAME_BYTES
            ),
            Self::PacketTooLarge { len } => {
                write!(f, "Opus packet of {len} bytes is over the {}-byte limit", crate::MAX_PACKET_BYTES)
            }
            Self::BadArgument { name, reason } => write!(f, "bad argument {name}: {reason}"),
            Self::Codec { function, reason } => write!(f, "{function} failed: {reason}"),
        }
    }
}

impl std::error::Error for MixerError {}

impl From<opus::Error> for MixerError {
    fn from(err: opus::Error) -> Self {
        Self::Codec { function: err.function(), reason: err.description() }
    }
}
