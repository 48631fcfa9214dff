"""The pipeline's errors: one base class, one subclass per stage.

Every message is meant for the person running the build: it names the manifest file, the model
and the key or file at fault, and says what to do. Stages raise these instead of letting a
library's exception escape as a bare traceback.
"""

import errno

# A write failing with one of these means the disk (or the quota, or the file size limit) is
# full: never worth a retry, and never the network's or the archive's fault.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ManifestError(PipelineError):
    """The manifest cannot be read or holds a value that is not valid."""


class CacheError(PipelineError):
    """The cache folder cannot be used (bad key, lock timeout, file system trouble)."""


class DownloadError(PipelineError):
    """A model file could not be fetched (network, HTTP status, size limit)."""


class ChecksumError(DownloadError):
    """The fetched bytes do not match the checksum the manifest gives."""


class ArchiveError(PipelineError):
    """An archive is corrupt, truncated, unsafe or too large to unpack."""
