"""S3 (and S3-compatible: MinIO, moto, Ceph) chunk store through s3fs.

``S3Store("s3://bucket/prefix", endpoint_url=..., key=..., secret=...)``. One PUT per chunk is
atomic on S3, so no temporary names are needed. S3 cannot refresh an object's modification time
without rewriting it, so a dedupe hit does not protect a chunk from gc's grace period; the
service's in-flight set does (see ``maintenance.gc``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from aria_actors.storage.backends.fsspec_store import FsspecStore


class S3Store(FsspecStore):
    def __init__(self, url: str, *, endpoint_url: str | None = None, key: str | None = None,
                 secret: str | None = None, region: str | None = None, level: int = 3,
                 **fs_options: Any) -> None:
        import s3fs  # heavy: s3fs loads aiobotocore (~0.4 s); only s3:// stores need it

        parsed = urlparse(url)
        client_kwargs: dict[str, Any] = dict(fs_options.pop("client_kwargs", {}))
        if endpoint_url:
            client_kwargs["endpoint_url"] = endpoint_url
        if region:
            client_kwargs["region_name"] = region
        fs = s3fs.S3FileSystem(key=key, secret=secret, client_kwargs=client_kwargs,
                               use_listings_cache=False, skip_instance_cache=True, **fs_options)
        root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
        super().__init__(fs, root, url, level=level)
