"""A small FastAPI app to try Server Workers on: each answer says which worker served it."""
import logging
import os
import signal
import time

from fastapi import FastAPI

logger = logging.getLogger("example")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

app = FastAPI(title="Server Workers example")


@app.get("/")
def index() -> dict:
    return {"message": "Hello from a worker", "pid": os.getpid()}


@app.get("/pid")
def pid() -> dict:
    return {"pid": os.getpid()}


@app.get("/slow")
def slow(seconds: float = 2.0) -> dict:
    time.sleep(min(seconds, 60.0))
    return {"slept": seconds, "pid": os.getpid()}


@app.get("/log")
def log(message: str = "hello") -> dict:
    print(f"print from worker {os.getpid()}: {message}")
    logger.info("log from worker %s: %s", os.getpid(), message)
    return {"logged": message, "pid": os.getpid()}


@app.get("/crash")
def crash() -> dict:
    """Kills the worker that serves it; the process manager starts a replacement."""
    os.kill(os.getpid(), signal.SIGKILL)
    return {"unreachable": True}
