"""The ingress controller as a Helm release, and the load balancer address it gets.

ingress-nginx (the tutorial's, retired upstream) or Traefik with its Kubernetes Ingress NGINX
provider: both serve Ingresses of class `nginx` and read the same cookie-affinity annotations,
so the app's Ingress is the same with either. During a migration (`ingress.migration`) both
run, each in a role: the one that serves the URL, Traefik being tested beside it, and
ingress-nginx standing by after the cut-over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.networking.v1 import IngressClassSpecArgsDict

from components.controller_values import VALUES, Role
from configuration.controllers import (
    CONTROLLERS,
    INGRESS_CLASS_NAME,
    NGINX_CONTROLLER_CLASS,
    SIDE_BY_SIDE_SERVICE,
    ControllerName,
)
from configuration.ingress import MIGRATION_SOURCE, MIGRATION_TARGET, IngressConfig

# Creating the OVHcloud load balancer takes minutes, and Helm waits (`--wait`) until the
# controller's Service has its address and its pods are ready; past this, the release fails.
RELEASE_TIMEOUT_SECONDS = 900


def load_balancer_address(service_status: Any) -> str:
    """The first load balancer ingress of a Service status: its IP, else its hostname."""
    status = service_status or {}
    entries = (status.get("load_balancer") or status.get("loadBalancer") or {}).get("ingress")
    for entry in entries or []:
        address = entry.get("ip") or entry.get("hostname")
        if address:
            return address
    raise ValueError("the ingress controller Service has no load balancer address yet")


def ingress_class_spec() -> IngressClassSpecArgsDict:
    return {"controller": NGINX_CONTROLLER_CLASS}


class IngressController(pulumi.ComponentResource):
    """One controller's release in its own namespace; exposes the class name and the address of
    its load balancer Service (the side-by-side one when it is being tested)."""

    release: k8s.helm.v3.Release
    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: IngressConfig,
        opts: pulumi.ResourceOptions | None = None,
        trusted: Sequence[str] = (),
        *,
        controller: ControllerName | None = None,
        role: Role = "serves",
        ingress_class: str | None = None,
        after: Sequence[pulumi.Resource] = (),
        formerly: str | None = None,
    ) -> None:
        """`controller`: which one, with its chart's namespace and pinned version (default: the
        configured one, with ingress.namespace and ingress.chartVersion); `ingress_class`: the
        resource name of the `nginx` IngressClass when this component declares it (one of the
        two does during a migration); `after`: what its release waits for; `formerly`: the name
        its resources had (aliases, so that the state follows a rename instead of replacing
        everything)."""
        was = (lambda child: [pulumi.Alias(name=f"{formerly}{child}")]) if formerly else None
        super().__init__(
            "sticky-sessions:index:IngressController",
            name,
            None,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=was and was(""))),
        )
        controller_name = controller or args.controller
        entry = CONTROLLERS[controller_name]
        if entry.warning:
            pulumi.log.warn(entry.warning, resource=self)

        def options(child: str, **more: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=was and was(child), **more)

        # Fixed names: pulumi-kubernetes refuses to create an object whose name exists, so a
        # replacement deletes the old object first.
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": entry.namespace if controller else args.namespace},
            opts=options("-namespace", delete_before_replace=True),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=entry.release_name,
            chart=entry.chart.name,
            version=entry.chart.version if controller else args.chart_version,
            repository_opts={"repo": entry.chart.repository},
            namespace=namespace.metadata["name"],
            values=VALUES[controller_name](args, trusted, role),
            cleanup_on_fail=True,
            # Helm waits (`--wait`) for the controller's pods and for the OVHcloud load balancer
            # to give its Service an address, which takes minutes; past this the release fails.
            # Never skipAwait: `pulumi destroy` must wait for the load balancer to be released.
            timeout=RELEASE_TIMEOUT_SECONDS,
            # A change of controller without a migration replaces the release: the old one goes
            # first, so two controllers never fight over the Ingress status.
            opts=options("-release", delete_before_replace=True, depends_on=list(after)),
        )
        # What the app's Ingress must wait for before it is created.
        self.ready: list[pulumi.Resource] = [self.release]
        if ingress_class is not None:
            # Ours, not a chart's: both controllers serve it, so it outlives a change of
            # controller and the app's Ingress keeps its class. Its name is the same under
            # either controller's component, so the state keeps it whichever declares it.
            self.ready.append(
                k8s.networking.v1.IngressClass(
                    ingress_class,
                    metadata={"name": INGRESS_CLASS_NAME},
                    spec=ingress_class_spec(),
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                )
            )
        status = self.release.status
        service_name = (
            (lambda release: f"{release}-{SIDE_BY_SIDE_SERVICE}")
            if role == "tested"
            else entry.service_name
        )
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            pulumi.Output.concat(status.namespace, "/", status.name.apply(service_name)),
            opts=options("-controller-service"),
        )
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.register_outputs(
            {
                "ingress_class_name": self.ingress_class_name,
                "load_balancer_address": self.load_balancer_address,
            }
        )


class ExistingIngressController(pulumi.ComponentResource):
    """The controller another stack of this project installed (ingress.enabled false): its
    Service is read from the cluster, nothing is created."""

    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self, name: str, args: IngressConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:ExistingIngressController", name, None, opts)
        controller = CONTROLLERS[args.controller]
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            f"{args.namespace}/{controller.service_name()}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready: list[pulumi.Resource] = []  # not this stack's: nothing to wait for
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.register_outputs({})  # the part is off here: the stack exports nothing of it


class Controllers:
    """What the stack's controllers give the app: the class name, the address that serves the
    URL, which controller that is, what the Ingress waits for and, side by side, the address to
    test Traefik at."""

    def __init__(
        self,
        serving: IngressController | ExistingIngressController,
        served_by: ControllerName,
        others: Sequence[IngressController] = (),
        tested: IngressController | None = None,
    ) -> None:
        self.ingress_class_name = serving.ingress_class_name
        self.load_balancer_address = serving.load_balancer_address
        self.served_by = served_by
        # A destroy removes the Ingress before every controller that serves it.
        self.ready = [*serving.ready, *(r for other in others for r in other.ready)]
        self.test_address = tested.load_balancer_address if tested is not None else None


# The names of the controllers' components: ingress-nginx's has always been "ingress"; Traefik's
# is "ingress-traefik" so that both can be declared during a migration.
COMPONENT_NAMES: dict[ControllerName, str] = {
    "ingress-nginx": "ingress",
    "traefik": "ingress-traefik",
}


def build_controller(
    name: str, ingress: IngressConfig, opts: pulumi.ResourceOptions, trusted: Sequence[str] = ()
) -> Controllers:
    """This stack's controllers (one, or both during a migration), or the one another stack
    installed when ingress.enabled is off; `trusted`: the networks a PROXY header is believed
    from."""
    if not ingress.enabled:
        existing = ExistingIngressController(name, ingress, opts)
        return Controllers(existing, ingress.served_by)
    names = {
        controller: COMPONENT_NAMES[controller].replace("ingress", name, 1)
        for controller in COMPONENT_NAMES
    }
    ingress_class = f"{name}-ingress-class"
    if ingress.migration == "none":
        # Traefik's resources had ingress-nginx's names before migrations existed (and have
        # them in the state of a stack that switched directly): the aliases take them over.
        # Never during a migration, where ingress-nginx holds those names.
        formerly = name if names[ingress.controller] != name else None
        only = IngressController(
            names[ingress.controller],
            ingress,
            opts,
            trusted,
            ingress_class=ingress_class,
            formerly=formerly,
        )
        return Controllers(only, ingress.served_by)
    source = IngressController(
        names[MIGRATION_SOURCE],
        ingress,
        opts,
        trusted,
        controller=MIGRATION_SOURCE,
        role="serves" if ingress.migration == "side-by-side" else "standby",
        ingress_class=ingress_class,
    )
    target = IngressController(
        names[MIGRATION_TARGET],
        ingress,
        opts,
        trusted,
        role="tested" if ingress.migration == "side-by-side" else "serves",
        # At the cut-over, ingress-nginx's Service lets the address go before Traefik's new
        # Service asks for it.
        after=[source.release] if ingress.moves_address else [],
    )
    if ingress.migration == "side-by-side":
        return Controllers(source, ingress.served_by, others=[target], tested=target)
    return Controllers(target, ingress.served_by, others=[source])
