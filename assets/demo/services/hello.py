"""hello.py: the hello-world app's nginx, on its host port (10080 by default)."""
import cvm

PORTS = [10080]


def UNIT():
    m = cvm.booted("hello-world")
    return m is not None and cvm.mapped(m, 10080)


def page():
    return (200, {"Content-Type": "text/html", "Server": "nginx/1.27.3"},
            "<html><head><title>dstack Hello World</title></head><body>hello from a TDX CVM</body></html>")


def handle(req):
    return page()
