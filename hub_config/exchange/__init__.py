"""An nbgrader exchange that knows who is calling, for hubs whose servers share one unix account.

nbgrader's own exchange is a shared folder: it tells learners apart by file ownership, which is
meaningless where every server runs as the same uid (Kubernetes). Here a JupyterHub service owns
the exchange's files and takes each caller's name from the hub, and nbgrader's pluggable exchange
classes talk to it over HTTP, so the Assignments panel and nbgrader's commands work unchanged.

- ``rules``: names, limits and who may do what (no I/O);
- ``payload``: the wire format of a folder of files, packed and checked;
- ``store``: the service's own folder and index;
- ``service``: the Tornado service behind JupyterHub's authentication;
- ``client``: the nbgrader exchange classes;
- ``hubconfig``: the JupyterHub settings that register the service.
"""
