"""Account forms (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
