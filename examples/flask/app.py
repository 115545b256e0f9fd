"""A small Flask (WSGI) app for Gunicorn's sync and gthread workers."""
import logging
import os

from flask import Flask, request

logger = logging.getLogger("example")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

app = Flask(__name__)


@app.get("/")
def index():
    return {"message": "Hello from a worker", "pid": os.getpid()}


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.get("/log")
def log():
    message = request.args.get("message", "hello")
    print(f"print from worker {os.getpid()}: {message}")
    logger.info("log from worker %s: %s", os.getpid(), message)
    return {"logged": message, "pid": os.getpid()}
