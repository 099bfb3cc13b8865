"""WSGI entry point: `flask` finds this file, gunicorn serves `wsgi:app`."""
from app import create_app

app = create_app()
