"""A real S3-protocol server on loopback (moto's standalone server) for the remote-cache tests.

    def test_x(s3):                      # the server is shared by a module's tests
        url = s3.new_bucket()            # "s3://bucket-N/zoo", empty
        ...                              # AWS_* variables point every client at the server

The server runs in a thread of the test process; `stop()` takes it away (a remote that goes
down), `objects(url)` lists what a bucket holds.
"""
from __future__ import annotations

import itertools
import logging
import uuid

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._names = itertools.count()
        self.running = True

    @property
    def env(self) -> dict[str, str]:
        """The variables that point boto3/s3fs at this server (no real account involved)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": self.endpoint,
                "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def new_bucket(self, prefix: str = "zoo") -> str:
        name = f"bucket-{next(self._names)}-{uuid.uuid4().hex[:8]}"  # unique across servers
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}/{prefix}"

    def objects(self, url: str) -> dict[str, bytes]:
        """Key (below the URL's prefix) -> bytes of every object under `url`."""
        bucket, _, prefix = url[len("s3://"):].partition("/")
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"][len(prefix):].lstrip("/")] = body
        return found

    def put(self, url: str, key: str, data: bytes) -> None:
        bucket, _, prefix = url[len("s3://"):].partition("/")
        self.client().put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)

    def stop(self) -> None:
        if self.running:
            self._server.stop()
            self.running = False


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The module's S3 server, with this test's environment pointing at it."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MODELZOO_REMOTE_CACHE", raising=False)
    return s3_server
