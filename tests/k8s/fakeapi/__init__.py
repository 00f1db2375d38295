"""fakeapi: an in-memory stand-in for kube-apiserver, for edgelb's tests.

Only the Python standard library is used. The entry point is tests/k8s/fake-apiserver;
see tests/k8s/README.md for what is served and what is not.
"""
