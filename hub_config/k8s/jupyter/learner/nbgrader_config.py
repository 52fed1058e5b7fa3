# Generated from hub_config/course.yaml; edits are overwritten at hub start.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = 'fj-course'
c.Exchange.root = '/srv/nbgrader/exchange'
