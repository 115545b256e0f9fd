"""A small FastAPI app to try Server Workers on: each answer says which worker served it."""
import asyncio
import logging
import os
import signal
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

logger = logging.getLogger("example")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")



@asynccontextmanager
async def lifespan(_app: FastAPI):
    # STARTUP_DELAY (seconds) stands in for a slow startup (a database pool, a model load): a worker is ready after it.
    delay = float(os.environ.get("STARTUP_DELAY", "0"))
    if delay:
        logger.info("worker %s: startup takes %ss", os.getpid(), delay)
        await asyncio.sleep(delay)
    yield


app = FastAPI(title="Server Workers example", lifespan=lifespan)


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
