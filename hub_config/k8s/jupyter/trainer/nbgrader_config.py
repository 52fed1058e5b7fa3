# Generated from hub_config/course.yaml; edits are overwritten at hub start.
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = 'fj-course'
c.Exchange.root = '/srv/nbgrader/exchange'
_link = os.path.expanduser('~/course')
c.CourseDirectory.root = _link if os.path.isdir(_link) else '/home/jovyan/course'
c.CourseDirectory.groupshared = True
