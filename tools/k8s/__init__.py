"""Offline rendering and checking of the Kubernetes deployment in deploy/k8s.

- tools.k8s.manifests: kustomize/kubernetes-validate helpers, schema validation and our policies;
- tools.k8s.cel: reviewed Python translations of the CEL rules of the Strimzi and CloudNativePG CRDs.

tools/k8s/install.sh installs the pinned kustomize these helpers run.
"""
