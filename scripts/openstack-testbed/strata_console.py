"""nova.virt.fake with a console: the fake hypervisor's console output is fixed text, so a bake's
builder console (what strata reads with os-getConsoleOutput) comes from $S/console/<instance uuid>
when the test's hypervisor stand-in wrote one (src/image/glance/testbed-hypervisor.ts), else the
fake's own text. Everything else is nova.virt.fake.FakeDriver."""
import os

from nova.virt import fake

CONSOLE_DIR = os.environ.get("STRATA_TESTBED_CONSOLE_DIR", "/tmp/strata-openstack-testbed/console")


class ConsoleFileDriver(fake.FakeDriver):
    def get_console_output(self, context, instance):
        try:
            with open(os.path.join(CONSOLE_DIR, instance.uuid), "rb") as console:
                return console.read()
        except FileNotFoundError:
            return super().get_console_output(context, instance)
