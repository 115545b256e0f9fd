import os

from django.contrib.auth.models import User
from django.http import JsonResponse


def index(request):
    # A query: the database exists only once preLaunch has migrated it.
    return JsonResponse({"message": "Hello from a worker", "pid": os.getpid(), "users": User.objects.count()})


def pid(request):
    return JsonResponse({"pid": os.getpid()})
